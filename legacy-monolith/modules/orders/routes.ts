import { Router } from 'express';
import { z } from 'zod';
import { currentUserId } from '../../../extracted/common/auth';
import { pathId } from '../../../extracted/common/routing';
import { validate } from '../../../extracted/common/validation';
import { writeContext, type ModuleDeps } from '../context';
import { cardSchema } from '../payments/gateway';
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
  router.post('/', async (req, res) => {
    res.status(201).json(await service.place(currentUserId(res), validate(placeBody, req.body), writeContext(deps, req)));
  });
  router.get('/', async (req, res) => {
    res.json(await service.list(currentUserId(res), validate(listQuery, req.query).limit));
  });
  router.get('/:id', async (req, res) => {
    res.json(await service.get(currentUserId(res), pathId('order', req.params.id)));
  });
  router.post('/:id/cancel', async (req, res) => {
    res.json(await service.cancel(currentUserId(res), pathId('order', req.params.id), writeContext(deps, req)));
  });
  return router;
}
