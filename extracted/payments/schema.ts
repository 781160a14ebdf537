import type { Migration } from '../../outbox';

/** The payments service's own table. */
export const PAYMENTS_MIGRATIONS: Migration[] = [
  {
    id: 'payments_001_payments',
    sql: `
      create table payments (
        id uuid primary key,
        user_id uuid not null,
        order_id uuid,
        amount_cents integer not null check (amount_cents > 0),
        currency text not null,
        status text not null check (status in ('authorised', 'captured', 'refunded', 'declined')),
        card_last4 text not null,
        decline_reason text,
        version integer not null,
        origin text not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index payments_order_id on payments (order_id);
    `,
  },
];
