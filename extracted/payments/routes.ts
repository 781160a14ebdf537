import { Router } from 'express';
import { contract, currentUserId, pathId, validate, writeContextOf, type MountContext } from '../../service-kit';
import { Payments } from './payments';

/** /api/payments: authorise (POST), capture, refund and read one payment of the signed-in user. */
export function paymentsRouter(context: MountContext, origin: string): Router {
  const payments = new Payments(context.pool);
  const router = Router();
  router.use(context.auth.requireUser);
  router.post('/', async (req, res) => {
    const body = validate(contract.payments.authorise, req.body);
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
