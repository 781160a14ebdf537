import { Router } from 'express';
import { z } from 'zod';
import { pathId, validate, writeContextOf, type MountContext } from '../../service-kit';
import { Catalog } from './products';

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
const stockBody = z.object({
  delta: z.number().int().refine((delta) => delta !== 0, 'must not be 0'),
  /** Makes the change idempotent: a second request with the same reference changes nothing. */
  reference: z.string().min(1).max(200).optional(),
});
const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

/** /api/products: browse and price history without a token; create, update and change stock with one. */
export function productsRouter(context: MountContext, origin: string): Router {
  const catalog = new Catalog(context.pool);
  const router = Router();
  router.get('/', async (req, res) => {
    res.json(await catalog.list(validate(pageQuery, req.query)));
  });
  router.get('/:id', async (req, res) => {
    res.json(await catalog.get(pathId('product', req.params.id)));
  });
  router.get('/:id/prices', async (req, res) => {
    res.json(await catalog.priceHistory(pathId('product', req.params.id)));
  });
  router.post('/', context.auth.requireUser, async (req, res) => {
    res.status(201).json(await catalog.create(validate(createBody, req.body), writeContextOf(origin, req)));
  });
  router.patch('/:id', context.auth.requireUser, async (req, res) => {
    res.json(await catalog.update(pathId('product', req.params.id), validate(updateBody, req.body), writeContextOf(origin, req)));
  });
  router.post('/:id/stock', context.auth.requireUser, async (req, res) => {
    const { delta, reference } = validate(stockBody, req.body);
    res.json(await catalog.adjustStock(pathId('product', req.params.id), delta, reference, writeContextOf(origin, req)));
  });
  return router;
}
