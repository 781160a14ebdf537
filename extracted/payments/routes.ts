import { Router } from 'express';
import { z } from 'zod';
import { cardSchema, currentUserId, pathId, validate, writeContextOf, type MountContext } from '../../service-kit';
import { Payments } from './payments';

const authoriseBody = z.object({
  amountCents: z.number().int().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR'),
  card: cardSchema,
  orderId: z.uuid().nullish(),
});

/** /api/payments: authorise (POST), capture, refund and read one payment of the signed-in user. */
export function paymentsRouter(context: MountContext, origin: string): Router {
  const payments = new Payments(context.pool);
  const router = Router();
  router.use(context.auth.requireUser);
  router.post('/', async (req, res) => {
    const body = validate(authoriseBody, req.body);
    res.status(201).json(await payments.authorise({ ...body, orderId: body.orderId ?? null, userId: currentUserId(res) }, writeContextOf(origin, req)));
  });
  router.get('/:id', async (req, res) => {
    res.json(await payments.get(currentUserId(res), pathId('payment', req.params.id)));
  });
  router.post('/:id/capture', async (req, res) => {
    res.json(await payments.move(currentUserId(res), pathId('payment', req.params.id), 'captured', writeContextOf(origin, req)));
  });
  router.post('/:id/refund', async (req, res) => {
    res.json(await payments.move(currentUserId(res), pathId('payment', req.params.id), 'refunded', writeContextOf(origin, req)));
  });
  return router;
}
