import type { ClientBase, Pool } from 'pg';

/** Anything that runs a query: a pool for plain reads, a client inside a transaction. */
export type Queryable = Pool | ClientBase;

/** The monolith's four aggregate types; they are also the outbox `aggregatetype` and the topic suffix. */
export const AGGREGATE_TYPES = ['user', 'product', 'order', 'payment'] as const;
export type AggregateType = (typeof AGGREGATE_TYPES)[number];

export interface AggregateBase {
  id: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface User extends AggregateBase {
  email: string;
  name: string;
  passwordHash: string;
}

export interface Product extends AggregateBase {
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  stock: number;
}

export interface OrderItem {
  productId: string;
  quantity: number;
  priceCents: number;
}

export type OrderStatus = 'placed' | 'cancelled';
export interface Order extends AggregateBase {
  userId: string;
  status: OrderStatus;
  items: OrderItem[];
  totalCents: number;
  currency: string;
  paymentId: string;
}

export type PaymentStatus = 'authorised' | 'captured' | 'refunded' | 'declined';
export interface Payment extends AggregateBase {
  userId: string;
  orderId: string | null;
  amountCents: number;
  currency: string;
  status: PaymentStatus;
  cardLast4: string;
  declineReason: string | null;
}

export interface AggregateOf {
  user: User;
  product: Product;
  order: Order;
  payment: Payment;
}

interface Column {
  field: string;
  column: string;
  kind?: 'json' | 'timestamp';
}

/** How one aggregate type maps onto its table. Column order is also the field order of the entity and its hash. */
export interface AggregateTable<T extends AggregateType = AggregateType> {
  aggregateType: T;
  table: string;
  columns: readonly Column[];
  /** Precompiled statements, built once per table. */
  sql: { select: string; upsert: string; upsertIfNewer: string };
}

function column(field: string, kind?: Column['kind']): Column {
  return { field, column: field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`), kind };
}

const base = { head: [column('id')], tail: [column('version'), column('createdAt', 'timestamp'), column('updatedAt', 'timestamp')] };

function table<T extends AggregateType>(aggregateType: T, name: string, fields: Column[]): AggregateTable<T> {
  const columns = [...base.head, ...fields, ...base.tail];
  const names = columns.map((entry) => entry.column);
  // `origin` is stored beside the fields: it is the last writer, needed by the conflict rule, never part of the entity.
  const insertNames = [...names, 'origin'];
  const placeholders = insertNames.map((_, index) => `$${index + 1}`);
  const updates = insertNames.filter((name) => name !== 'id').map((name) => `${name} = excluded.${name}`);
  const upsert = `insert into ${name} (${insertNames.join(', ')}) values (${placeholders.join(', ')}) on conflict (id) do update set ${updates.join(', ')}`;
  return {
    aggregateType,
    table: name,
    columns,
    sql: {
      select: `select ${names.join(', ')}, origin from ${name}`,
      upsert,
      upsertIfNewer: `${upsert} where ${name}.version < excluded.version`,
    },
  };
}

export const TABLES: { [K in AggregateType]: AggregateTable<K> } = {
  user: table('user', 'users', [column('email'), column('name'), column('passwordHash')]),
  product: table('product', 'products', [column('sku'), column('name'), column('priceCents'), column('currency'), column('stock')]),
  order: table('order', 'orders', [
    column('userId'),
    column('status'),
    column('items', 'json'),
    column('totalCents'),
    column('currency'),
    column('paymentId'),
  ]),
  payment: table('payment', 'payments', [
    column('userId'),
    column('orderId'),
    column('amountCents'),
    column('currency'),
    column('status'),
    column('cardLast4'),
    column('declineReason'),
  ]),
};

export interface StoredAggregate<T extends AggregateType> {
  entity: AggregateOf[T];
  /** Who wrote the stored version: `legacy` or a service name. */
  origin: string;
}

export function rowToEntity<T extends AggregateType>(descriptor: AggregateTable<T>, row: Record<string, unknown>): AggregateOf[T] {
  const entity: Record<string, unknown> = {};
  for (const { field, column: name, kind } of descriptor.columns) {
    const value = row[name];
    entity[field] = kind === 'timestamp' && value instanceof Date ? value.toISOString() : value;
  }
  return entity as unknown as AggregateOf[T];
}

export function entityToParams(descriptor: AggregateTable, entity: AggregateBase, origin: string): unknown[] {
  const record = entity as unknown as Record<string, unknown>;
  const params = descriptor.columns.map(({ field, kind }) => (kind === 'json' ? JSON.stringify(record[field]) : record[field]));
  params.push(origin);
  return params;
}

export async function findAggregate<T extends AggregateType>(
  client: Queryable,
  aggregateType: T,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<StoredAggregate<T> | undefined> {
  const descriptor = TABLES[aggregateType];
  const result = await client.query(`${descriptor.sql.select} where id = $1${options.forUpdate ? ' for update' : ''}`, [id]);
  const row = result.rows[0] as Record<string, unknown> | undefined;
  return row ? { entity: rowToEntity(descriptor, row), origin: String(row.origin) } : undefined;
}

/** Inserts or overwrites the row of `entity`, recording `origin` as its last writer. */
export async function saveAggregate<T extends AggregateType>(client: Queryable, aggregateType: T, entity: AggregateOf[T], origin: string): Promise<void> {
  const descriptor = TABLES[aggregateType];
  await client.query(descriptor.sql.upsert, entityToParams(descriptor, entity, origin));
}
