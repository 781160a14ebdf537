import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { outboxMigrations, runMigrations, type Migration } from '../../outbox';
import { LEGACY_MIGRATIONS, type Product } from '../../legacy-monolith';
import { CATALOG_MIGRATIONS } from '../../extracted/catalog';
import { ORDERS_MIGRATIONS } from '../../extracted/orders';
import { PAYMENTS_MIGRATIONS } from '../../extracted/payments';
import { USERS_MIGRATIONS } from '../../extracted/users';

/** Each side's schema, as its process migrates it on start (outbox and inbox included). */
export const SCHEMAS: Record<'legacy' | 'users' | 'catalog' | 'payments' | 'orders', Migration[]> = {
  legacy: LEGACY_MIGRATIONS,
  users: USERS_MIGRATIONS,
  catalog: CATALOG_MIGRATIONS,
  payments: PAYMENTS_MIGRATIONS,
  orders: ORDERS_MIGRATIONS,
};

export async function migrateSide(pool: Pool, side: keyof typeof SCHEMAS): Promise<void> {
  await runMigrations(pool, [...outboxMigrations(), ...SCHEMAS[side]]);
}

/** A product as the monolith stores it. */
export function legacyProduct(overrides: Partial<Product> = {}): Product {
  const now = new Date().toISOString();
  return { id: randomUUID(), sku: `SKU-${randomUUID().slice(0, 8).toUpperCase()}`, name: 'Kettle', priceCents: 1999, currency: 'EUR', stock: 7, version: 1, createdAt: now, updatedAt: now, ...overrides };
}

/** Stores a (legacy-shaped) product in a catalog database the way the catalog models it: title, list price, stock level. */
export async function saveCatalogProduct(pool: Pool, product: Product, origin: string): Promise<void> {
  await pool.query(
    `insert into products (id, sku, title, list_price, currency, version, origin, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     on conflict (id) do update set title = excluded.title, list_price = excluded.list_price, version = excluded.version, origin = excluded.origin, updated_at = excluded.updated_at`,
    [product.id, product.sku, product.name, product.priceCents / 100, product.currency, product.version, origin, product.createdAt, product.updatedAt],
  );
  await pool.query('insert into stock_levels (product_id, on_hand) values ($1, $2) on conflict (product_id) do update set on_hand = excluded.on_hand', [product.id, product.stock]);
}
