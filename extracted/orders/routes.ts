import { Router } from 'express';
import { contract, currentUserId, pathId, peerCallOf, validate, writeContextOf, type MountContext } from '../../service-kit';
import { toPublicOrder, type OrderStore } from './orders';
import type { OrderSagas } from './sagas';

/** /api/orders: place, list, read and cancel the signed-in user's orders. */
export function ordersRouter(context: MountContext, origin: string, store: OrderStore, sagas: OrderSagas): Router {
  const router = Router();
  router.use(context.auth.requireUser);
  router.post('/', async (req, res) => {
    res.status(201).json(await sagas.place(currentUserId(res), validate(contract.orders.place, req.body), peerCallOf(req), writeContextOf(origin, req)));
  });
  router.get('/', async (req, res) => {
    res.json((await store.listOf(currentUserId(res), validate(contract.orders.list, req.query).limit)).map(toPublicOrder));
  });
  router.get('/:id', async (req, res) => {
    res.json(toPublicOrder(await store.find(currentUserId(res), pathId('order', req.params.id))));
  });
  router.post('/:id/cancel', async (req, res) => {
    res.json(await sagas.cancel(currentUserId(res), pathId('order', req.params.id), peerCallOf(req), writeContextOf(origin, req)));
  });
  return router;
}
