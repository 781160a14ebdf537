import { Router, type RequestHandler } from 'express';
import { contract, pathId, validate, writeContextOf } from '../../../service-kit';
import type { ModuleDeps } from '../context';
import { CatalogService } from './service';

/** /api/products: browse without a token; create, update and adjust stock with one (made by the owner once delegated). */
export function productsRouter(deps: ModuleDeps): Router {
  const service = new CatalogService(deps.pool);
  const router = Router();
  router.get('/', async (req, res) => {
    res.json(await service.list(validate(contract.products.page, req.query)));
  });
  router.get('/:id', async (req, res) => {
    res.json(await service.get(pathId('product', req.params.id)));
  });
  const write = (handler: RequestHandler) => deps.delegation.write('product', handler);
  router.post('/', deps.auth.requireUser, write(async (req, res) => {
    res.status(201).json(await service.create(validate(contract.products.create, req.body), writeContextOf(deps.origin, req)));
  }));
  router.patch('/:id', deps.auth.requireUser, write(async (req, res) => {
    const id = pathId('product', req.params.id);
    res.json(await service.update(id, validate(contract.products.update, req.body), writeContextOf(deps.origin, req)));
  }));
  router.post('/:id/stock', deps.auth.requireUser, write(async (req, res) => {
    const id = pathId('product', req.params.id);
    res.json(await service.adjustStock(id, validate(contract.products.stock, req.body).delta, writeContextOf(deps.origin, req)));
  }));
  return router;
}
