import type { Pool } from 'pg';
import { outboxMigrations, runMigrations, type Migration } from '../../outbox';

/**
 * The shop's tables. Every database (the monolith's and each service's) gets the same schema: a service owns
 * the rows of its aggregate and keeps read-only replicas of the others it references (orders needs users and
 * products), fed by sync events. No foreign keys: replicas arrive in any order.
 */
export const SHOP_MIGRATIONS: Migration[] = [
  {
    id: 'shop_001_aggregates',
    sql: `
      create table users (
        id uuid primary key,
        email text not null unique,
        name text not null,
        password_hash text not null,
        version integer not null,
        origin text not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create table products (
        id uuid primary key,
        sku text not null unique,
        name text not null,
        price_cents integer not null,
        currency text not null,
        stock integer not null check (stock >= 0),
        version integer not null,
        origin text not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create table orders (
        id uuid primary key,
        user_id uuid not null,
        status text not null,
        items jsonb not null,
        total_cents integer not null,
        currency text not null,
        payment_id uuid not null,
        version integer not null,
        origin text not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index orders_user_id on orders (user_id, created_at);
      create table payments (
        id uuid primary key,
        user_id uuid not null,
        order_id uuid,
        amount_cents integer not null,
        currency text not null,
        status text not null,
        card_last4 text not null,
        decline_reason text,
        version integer not null,
        origin text not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
    `,
  },
];

/** Creates the outbox, the inbox and the shop tables (idempotent). */
export async function migrateShop(pool: Pool): Promise<string[]> {
  return runMigrations(pool, [...outboxMigrations(), ...SHOP_MIGRATIONS]);
}
