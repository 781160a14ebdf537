import { randomUUID } from 'node:crypto';
import type { ClientBase, Pool } from 'pg';
import { DuplicateError, InsufficientStockError, NotFoundError, recordEvent, withTransaction, type WriteContext } from '../../service-kit';

/** A product as the catalog models it and as its events carry it: price in major units, stock on hand. */
export interface CatalogProduct {
  id: string;
  sku: string;
  title: string;
  listPrice: number;
  currency: string;
  onHand: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** The shop's public product, the same contract the monolith answers with. */
export interface PublicProduct {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  stock: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface PricePoint {
  version: number;
  priceCents: number;
  currency: string;
  validFrom: string;
}

const SELECT = `select p.id, p.sku, p.title, p.list_price, p.currency, s.on_hand, p.version, p.created_at, p.updated_at
  from products p join stock_levels s on s.product_id = p.id`;

function fromRow(row: Record<string, unknown>): CatalogProduct {
  return {
    id: String(row.id),
    sku: String(row.sku),
    title: String(row.title),
    listPrice: Number(row.list_price),
    currency: String(row.currency),
    onHand: Number(row.on_hand),
    version: Number(row.version),
    createdAt: (row.created_at as Date).toISOString(),
    updatedAt: (row.updated_at as Date).toISOString(),
  };
}

const cents = (major: number) => Math.round(major * 100);

export function toPublicProduct(product: CatalogProduct): PublicProduct {
  return {
    id: product.id,
    sku: product.sku,
    name: product.title,
    priceCents: cents(product.listPrice),
    currency: product.currency,
    stock: product.onHand,
    version: product.version,
    createdAt: product.createdAt,
    updatedAt: product.updatedAt,
  };
}

async function save(client: ClientBase, product: CatalogProduct, type: string, context: WriteContext): Promise<void> {
  await client.query(
    `insert into products (id, sku, title, list_price, currency, version, origin, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     on conflict (id) do update set title = excluded.title, list_price = excluded.list_price, currency = excluded.currency,
       version = excluded.version, origin = excluded.origin, updated_at = excluded.updated_at`,
    [product.id, product.sku, product.title, product.listPrice, product.currency, product.version, context.origin, product.createdAt, product.updatedAt],
  );
  await client.query('insert into stock_levels (product_id, on_hand) values ($1, $2) on conflict (product_id) do update set on_hand = excluded.on_hand', [product.id, product.onHand]);
  await recordEvent(client, { aggregateType: 'product', aggregateId: product.id, type, version: product.version, payload: product }, context);
}

/** Locks the product and its stock level: both rows, so a waiting transaction re-reads both once it gets the lock. */
async function lock(client: ClientBase, id: string): Promise<CatalogProduct> {
  const row = (await client.query(`${SELECT} where p.id = $1 for update`, [id])).rows[0];
  if (!row) throw new NotFoundError('product', id);
  return fromRow(row);
}

function next(product: CatalogProduct, changes: Partial<CatalogProduct>): CatalogProduct {
  return { ...product, ...changes, version: product.version + 1, updatedAt: new Date().toISOString() };
}

/**
 * The catalogue and the owner of stock: every reservation, release and restock of a product is made here, under
 * the product's row lock, so two orders can never both take the last unit. A change made with a `reference`
 * (an order's reservation or release) is applied once, however often it is sent.
 */
export class Catalog {
  constructor(private readonly pool: Pool) {}

  async list(page: { limit: number; offset: number }): Promise<PublicProduct[]> {
    const { rows } = await this.pool.query(`${SELECT} order by p.sku limit $1 offset $2`, [page.limit, page.offset]);
    return rows.map((row: Record<string, unknown>) => toPublicProduct(fromRow(row)));
  }

  async get(id: string): Promise<PublicProduct> {
    const row = (await this.pool.query(`${SELECT} where p.id = $1`, [id])).rows[0];
    if (!row) throw new NotFoundError('product', id);
    return toPublicProduct(fromRow(row));
  }

  async priceHistory(id: string): Promise<PricePoint[]> {
    await this.get(id);
    const { rows } = await this.pool.query('select version, list_price, currency, valid_from from price_history where product_id = $1 order by version', [id]);
    return rows.map((row: Record<string, unknown>) => ({ version: Number(row.version), priceCents: cents(Number(row.list_price)), currency: String(row.currency), validFrom: (row.valid_from as Date).toISOString() }));
  }

  async create(input: { sku: string; name: string; priceCents: number; currency: string; stock: number }, context: WriteContext): Promise<PublicProduct> {
    const now = new Date().toISOString();
    const product: CatalogProduct = { id: randomUUID(), sku: input.sku, title: input.name, listPrice: input.priceCents / 100, currency: input.currency, onHand: input.stock, version: 1, createdAt: now, updatedAt: now };
    await withTransaction(this.pool, (client) => save(client, product, 'ProductCreated', context)).catch((error: { code?: string }) => {
      throw error.code === '23505' ? new DuplicateError('sku', input.sku) : error;
    });
    return toPublicProduct(product);
  }

  update(id: string, changes: { name?: string; priceCents?: number }, context: WriteContext): Promise<PublicProduct> {
    return withTransaction(this.pool, async (client) => {
      const current = await lock(client, id);
      const updated = next(current, { title: changes.name ?? current.title, listPrice: changes.priceCents === undefined ? current.listPrice : changes.priceCents / 100 });
      await save(client, updated, 'ProductUpdated', context);
      return toPublicProduct(updated);
    });
  }

  /** Changes stock on hand by `delta` (negative reserves); with a `reference` already applied, answers the product unchanged. */
  adjustStock(id: string, delta: number, reference: string | undefined, context: WriteContext): Promise<PublicProduct> {
    return withTransaction(this.pool, async (client) => {
      const current = await lock(client, id);
      if (reference) {
        const recorded = await client.query('insert into stock_movements (reference, product_id, delta) values ($1, $2, $3) on conflict do nothing', [reference, id, delta]);
        if (recorded.rowCount === 0) return toPublicProduct(current);
      }
      if (current.onHand + delta < 0) throw new InsufficientStockError(id, current.onHand, -delta);
      const adjusted = next(current, { onHand: current.onHand + delta });
      await save(client, adjusted, 'StockAdjusted', context);
      return toPublicProduct(adjusted);
    });
  }
}
