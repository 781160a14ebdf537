import { Router } from 'express';
import { z } from 'zod';
import { contract, pathId, validate, writeContextOf, type MountContext } from '../../service-kit';
import { Catalog } from './products';

/** The shared contract's stock change, plus a `reference` that makes it idempotent: a second request with it changes nothing. */
const stockBody = contract.products.stock.extend({ reference: z.string().min(1).max(200).optional() });

/** /api/products: browse and price history without a token; create, update and change stock with one. */
export function productsRouter(context: MountContext, origin: string): Router {
  const catalog = new Catalog(context.pool);
  const router = Router();
  router.get('/', async (req, res) => {
    res.json(await catalog.list(validate(contract.products.page, req.query)));
  });
  router.get('/:id', async (req, res) => {
    res.json(await catalog.get(pathId('product', req.params.id)));
  });
  router.get('/:id/prices', async (req, res) => {
    res.json(await catalog.priceHistory(pathId('product', req.params.id)));
  });
  router.post('/', context.auth.requireUser, async (req, res) => {
    res.status(201).json(await catalog.create(validate(contract.products.create, req.body), writeContextOf(origin, req)));
  });
  router.patch('/:id', context.auth.requireUser, async (req, res) => {
    res.json(await catalog.update(pathId('product', req.params.id), validate(contract.products.update, req.body), writeContextOf(origin, req)));
  });
  router.post('/:id/stock', context.auth.requireUser, async (req, res) => {
    const { delta, reference } = validate(stockBody, req.body);
    res.json(await catalog.adjustStock(pathId('product', req.params.id), delta, reference, writeContextOf(origin, req)));
  });
  return router;
}
