import { Router } from 'express';
import { contract, currentUserId, pathId, validate, writeContextOf } from '../../../service-kit';
import type { ModuleDeps } from '../context';
import { OrderService } from './service';


/** /api/orders: place, list, read and cancel the signed-in user's orders. */
export function ordersRouter(deps: ModuleDeps): Router {
  const service = new OrderService(deps.pool);
  const router = Router();
  router.use(deps.auth.requireUser);
  const placing = [{ aggregateType: 'payment' as const, idField: 'paymentId' }];
  router.post('/', deps.delegation.write('order', async (req, res) => {
    res.status(201).json(await service.place(currentUserId(res), validate(contract.orders.place, req.body), writeContextOf(deps.origin, req)));
  }, placing));
  router.get('/', async (req, res) => {
    res.json(await service.list(currentUserId(res), validate(contract.orders.list, req.query).limit));
  });
  router.get('/:id', async (req, res) => {
    res.json(await service.get(currentUserId(res), pathId('order', req.params.id)));
  });
  router.post('/:id/cancel', deps.delegation.write('order', async (req, res) => {
    res.json(await service.cancel(currentUserId(res), pathId('order', req.params.id), writeContextOf(deps.origin, req)));
  }));
  return router;
}
