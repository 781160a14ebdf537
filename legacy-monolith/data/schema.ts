import type { Migration } from '../../outbox';

/**
 * The monolith's tables, one per aggregate. `origin` records who wrote the stored version: `legacy`, or the
 * service that owns the aggregate once its writes are delegated (the row is then a replica fed by sync events).
 * No foreign keys: replicas arrive in any order.
 */
export const LEGACY_MIGRATIONS: Migration[] = [
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
  {
    id: 'legacy_002_replica_notify',
    sql: `
      -- A row written by another origin is a replica the sync consumer just applied: say so, for a delegated
      -- write waiting to read it back (legacy-monolith/replica-waiter.ts).
      create function notify_replica() returns trigger language plpgsql as $$
      begin
        if new.origin <> 'legacy' then
          perform pg_notify('strangler_replica', tg_table_name || ':' || new.id || ':' || new.version);
        end if;
        return new;
      end $$;
      create trigger users_replica after insert or update on users for each row execute function notify_replica();
      create trigger products_replica after insert or update on products for each row execute function notify_replica();
      create trigger orders_replica after insert or update on orders for each row execute function notify_replica();
      create trigger payments_replica after insert or update on payments for each row execute function notify_replica();
    `,
  },
];
