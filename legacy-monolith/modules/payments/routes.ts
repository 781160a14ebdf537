import { Router } from 'express';
import { z } from 'zod';
import { currentUserId } from '../../../extracted/common/auth';
import { pathId } from '../../../extracted/common/routing';
import { validate } from '../../../extracted/common/validation';
import { writeContext, type ModuleDeps } from '../context';
import { cardSchema } from './gateway';
import { PaymentService } from './service';

const authoriseBody = z.object({
  amountCents: z.number().int().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR'),
  card: cardSchema,
  orderId: z.uuid().nullish(),
});

/** /api/payments: authorise (POST), capture, refund and read one payment of the signed-in user. */
export function paymentsRouter(deps: ModuleDeps): Router {
  const service = new PaymentService(deps.pool);
  const router = Router();
  router.use(deps.auth.requireUser);
  router.post('/', async (req, res) => {
    const body = validate(authoriseBody, req.body);
    const payment = await service.authorise({ ...body, orderId: body.orderId ?? null, userId: currentUserId(res) }, writeContext(deps, req));
    res.status(201).json(payment);
  });
  router.get('/:id', async (req, res) => {
    res.json(await service.get(currentUserId(res), pathId('payment', req.params.id)));
  });
  router.post('/:id/capture', async (req, res) => {
    res.json(await service.capture(currentUserId(res), pathId('payment', req.params.id), writeContext(deps, req)));
  });
  router.post('/:id/refund', async (req, res) => {
    res.json(await service.refund(currentUserId(res), pathId('payment', req.params.id), writeContext(deps, req)));
  });
  return router;
}
