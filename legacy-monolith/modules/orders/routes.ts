import { Router } from 'express';
import { z } from 'zod';
import { cardSchema, currentUserId, pathId, validate, writeContextOf } from '../../../service-kit';
import type { ModuleDeps } from '../context';
import { OrderService } from './service';

const placeBody = z.object({
  items: z
    .array(z.object({ productId: z.uuid(), quantity: z.number().int().min(1).max(1000) }))
    .min(1)
    .max(50),
  card: cardSchema,
});
const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });

/** /api/orders: place, list, read and cancel the signed-in user's orders. */
export function ordersRouter(deps: ModuleDeps): Router {
  const service = new OrderService(deps.pool);
  const router = Router();
  router.use(deps.auth.requireUser);
  const placing = [{ aggregateType: 'payment' as const, idField: 'paymentId' }];
  router.post('/', deps.delegation.write('order', async (req, res) => {
    res.status(201).json(await service.place(currentUserId(res), validate(placeBody, req.body), writeContextOf(deps.origin, req)));
  }, placing));
  router.get('/', async (req, res) => {
    res.json(await service.list(currentUserId(res), validate(listQuery, req.query).limit));
  });
  router.get('/:id', async (req, res) => {
    res.json(await service.get(currentUserId(res), pathId('order', req.params.id)));
  });
  router.post('/:id/cancel', deps.delegation.write('order', async (req, res) => {
    res.json(await service.cancel(currentUserId(res), pathId('order', req.params.id), writeContextOf(deps.origin, req)));
  }));
  return router;
}
