import type { Migration } from '../../outbox';

/**
 * The catalog service's own model: products priced in major units (`list_price`), stock in its own table, every
 * price a product ever had in `price_history` (kept by a trigger, so prices that arrive by sync are recorded too),
 * and `stock_movements`, one row per stock change made with a reference, which makes a retried reservation a no-op.
 */
export const CATALOG_MIGRATIONS: Migration[] = [
  {
    id: 'catalog_001_products',
    sql: `
      create table products (
        id uuid primary key,
        sku text not null unique,
        title text not null,
        list_price numeric(12, 2) not null check (list_price >= 0),
        currency text not null,
        version integer not null,
        origin text not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create table stock_levels (
        product_id uuid primary key,
        on_hand integer not null check (on_hand >= 0)
      );
      create table stock_movements (
        reference text primary key,
        product_id uuid not null,
        delta integer not null,
        applied_at timestamptz not null default now()
      );
      create table price_history (
        product_id uuid not null,
        version integer not null,
        list_price numeric(12, 2) not null,
        currency text not null,
        valid_from timestamptz not null,
        primary key (product_id, version)
      );
      create function record_price() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' or new.list_price <> old.list_price or new.currency <> old.currency then
          insert into price_history (product_id, version, list_price, currency, valid_from)
          values (new.id, new.version, new.list_price, new.currency, new.updated_at)
          on conflict do nothing;
        end if;
        return new;
      end $$;
      create trigger products_price_history after insert or update on products for each row execute function record_price();
    `,
  },
];
