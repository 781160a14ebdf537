import type { Migration } from '../../outbox';

/**
 * The orders service's own model: an order is CONFIRMED or CANCELLED (the monolith says placed / cancelled), its
 * customer is `customer_id`, and its lines are rows of `order_lines`. Products and payments are not stored here:
 * they belong to the catalog and payments services and are reached through their APIs.
 */
export const ORDERS_MIGRATIONS: Migration[] = [
  {
    id: 'orders_001_orders',
    sql: `
      create table orders (
        id uuid primary key,
        customer_id uuid not null,
        state text not null check (state in ('CONFIRMED', 'CANCELLED')),
        total_cents integer not null,
        currency text not null,
        payment_id uuid not null,
        version integer not null,
        origin text not null,
        placed_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index orders_customer on orders (customer_id, placed_at);
      create table order_lines (
        order_id uuid not null,
        line_no integer not null,
        product_id uuid not null,
        quantity integer not null check (quantity > 0),
        unit_price_cents integer not null,
        primary key (order_id, line_no)
      );
    `,
  },
];
