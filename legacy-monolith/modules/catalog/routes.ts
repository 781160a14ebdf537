import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { pathId, validate, writeContextOf } from '../../../service-kit';
import type { ModuleDeps } from '../context';
import { CatalogService } from './service';

const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR');
const createBody = z.object({
  sku: z.string().regex(/^[A-Z0-9-]{3,40}$/, 'must be 3 to 40 characters A-Z, 0-9 or -'),
  name: z.string().trim().min(1).max(200),
  priceCents: z.number().int().nonnegative(),
  currency,
  stock: z.number().int().nonnegative(),
});
const updateBody = z
  .object({ name: z.string().trim().min(1).max(200).optional(), priceCents: z.number().int().nonnegative().optional() })
  .refine((body) => body.name !== undefined || body.priceCents !== undefined, 'name or priceCents is required');
const stockBody = z.object({ delta: z.number().int().refine((delta) => delta !== 0, 'must not be 0') });
const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

/** /api/products: browse without a token; create, update and adjust stock with one (made by the owner once delegated). */
export function productsRouter(deps: ModuleDeps): Router {
  const service = new CatalogService(deps.pool);
  const router = Router();
  router.get('/', async (req, res) => {
    res.json(await service.list(validate(pageQuery, req.query)));
  });
  router.get('/:id', async (req, res) => {
    res.json(await service.get(pathId('product', req.params.id)));
  });
  const write = (handler: RequestHandler) => deps.delegation.write('product', handler);
  router.post('/', deps.auth.requireUser, write(async (req, res) => {
    res.status(201).json(await service.create(validate(createBody, req.body), writeContextOf(deps.origin, req)));
  }));
  router.patch('/:id', deps.auth.requireUser, write(async (req, res) => {
    const id = pathId('product', req.params.id);
    res.json(await service.update(id, validate(updateBody, req.body), writeContextOf(deps.origin, req)));
  }));
  router.post('/:id/stock', deps.auth.requireUser, write(async (req, res) => {
    const id = pathId('product', req.params.id);
    res.json(await service.adjustStock(id, validate(stockBody, req.body).delta, writeContextOf(deps.origin, req)));
  }));
  return router;
}
