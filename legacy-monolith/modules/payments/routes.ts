import { Router, type RequestHandler } from 'express';
import { contract, currentUserId, pathId, validate, writeContextOf } from '../../../service-kit';
import type { ModuleDeps } from '../context';
import { PaymentService } from './service';

/** /api/payments: authorise (POST), capture, refund and read one payment of the signed-in user. */
export function paymentsRouter(deps: ModuleDeps): Router {
  const service = new PaymentService(deps.pool);
  const router = Router();
  router.use(deps.auth.requireUser);
  const write = (handler: RequestHandler) => deps.delegation.write('payment', handler);
  router.post('/', write(async (req, res) => {
    const body = validate(contract.payments.authorise, req.body);
    const payment = await service.authorise({ ...body, orderId: body.orderId ?? null, userId: currentUserId(res) }, writeContextOf(deps.origin, req));
    res.status(201).json(payment);
  }));
  router.get('/:id', async (req, res) => {
    res.json(await service.get(currentUserId(res), pathId('payment', req.params.id)));
  });
  router.post('/:id/capture', write(async (req, res) => {
    res.json(await service.capture(currentUserId(res), pathId('payment', req.params.id), writeContextOf(deps.origin, req)));
  }));
  router.post('/:id/refund', write(async (req, res) => {
    res.json(await service.refund(currentUserId(res), pathId('payment', req.params.id), writeContextOf(deps.origin, req)));
  }));
  return router;
}
