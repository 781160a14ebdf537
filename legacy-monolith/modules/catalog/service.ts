import { randomUUID } from 'node:crypto';
import type { ClientBase, Pool } from 'pg';
import { findAggregate, rowToEntity, TABLES, type Product } from '../../data/tables';
import { DuplicateError, InsufficientStockError, NotFoundError, withTransaction } from '../../../service-kit';
import { nextVersion, recordChange, type WriteContext } from '../../data/changes';

export interface NewProduct {
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  stock: number;
}

const selectPage = `${TABLES.product.sql.select} order by sku limit $1 offset $2`;

export async function lockProduct(client: ClientBase, id: string): Promise<Product> {
  const stored = await findAggregate(client, 'product', id, { forUpdate: true });
  if (!stored) throw new NotFoundError('product', id);
  return stored.entity;
}

/** Changes the stock of a locked product by `delta` (negative reserves, positive releases) and records StockAdjusted. */
export async function adjustStockIn(client: ClientBase, product: Product, delta: number, context: WriteContext): Promise<Product> {
  if (product.stock + delta < 0) throw new InsufficientStockError(product.id, product.stock, -delta);
  const adjusted = nextVersion(product, { stock: product.stock + delta });
  await recordChange(client, 'product', adjusted, 'StockAdjusted', context);
  return adjusted;
}

export class CatalogService {
  constructor(private readonly pool: Pool) {}

  async list(page: { limit: number; offset: number }): Promise<Product[]> {
    const result = await this.pool.query(selectPage, [page.limit, page.offset]);
    return result.rows.map((row: Record<string, unknown>) => rowToEntity(TABLES.product, row));
  }

  async get(id: string): Promise<Product> {
    const stored = await findAggregate(this.pool, 'product', id);
    if (!stored) throw new NotFoundError('product', id);
    return stored.entity;
  }

  create(input: NewProduct, context: WriteContext): Promise<Product> {
    return withTransaction(this.pool, async (client) => {
      const now = new Date().toISOString();
      const product: Product = { id: randomUUID(), ...input, version: 1, createdAt: now, updatedAt: now };
      await recordChange(client, 'product', product, 'ProductCreated', context).catch((error: { code?: string }) => {
        throw error.code === '23505' ? new DuplicateError('sku', input.sku) : error;
      });
      return product;
    });
  }

  update(id: string, changes: { name?: string; priceCents?: number }, context: WriteContext): Promise<Product> {
    return withTransaction(this.pool, async (client) => {
      const updated = nextVersion(await lockProduct(client, id), changes);
      await recordChange(client, 'product', updated, 'ProductUpdated', context);
      return updated;
    });
  }

  adjustStock(id: string, delta: number, context: WriteContext): Promise<Product> {
    return withTransaction(this.pool, async (client) => adjustStockIn(client, await lockProduct(client, id), delta, context));
  }
}
