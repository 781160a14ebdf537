/**
 * The row changes bench/capture.ts captures (and bench/capture-debezium.ts and bench/capture-binlog.ts share): a
 * three-table shop schema (customers, orders, order lines with a composite key; text, varchar, numeric,
 * timestamptz columns) and transactions of row updates over it, hot keys included. In Postgres (schema `shop`) or,
 * with dialect `mysql`, in MySQL types (varchar, decimal, datetime(3), timestamp(6)) in the connection's database.
 */
import type mysql from 'mysql2/promise';
import type pg from 'pg';

export type Dialect = 'postgres' | 'mysql';

export const TABLES = ['shop.customers', 'shop.orders', 'shop.order_lines'];
/** The same tables in MySQL: in the connection string's database. */
export const MYSQL_TABLES = ['customers', 'orders', 'order_lines'];
export const CUSTOMERS = 2_000;
export const ORDERS = 10_000;
export const LINES_PER_ORDER = 3;

/** The schema and its rows (not captured: they exist before any slot). */
export async function createSchema(pool: pg.Pool): Promise<void> {
  await pool.query(`
    create schema shop;
    create table shop.customers (id bigint primary key, name text not null, email varchar(120), tier int not null default 0,
      updated_at timestamptz not null default now());
    create table shop.orders (id bigint primary key, customer_id bigint not null, status varchar(20) not null,
      total numeric(12,2) not null, placed_at timestamptz not null default now(), note text);
    create table shop.order_lines (order_id bigint, line_no int, sku varchar(32) not null, qty int not null,
      price numeric(10,2) not null, primary key (order_id, line_no));
    insert into shop.customers (id, name, email) select i, 'customer ' || i, 'c' || i || '@example.com' from generate_series(1, ${CUSTOMERS}) i;
    insert into shop.orders (id, customer_id, status, total, note)
      select i, 1 + i % ${CUSTOMERS}, 'NEW', (i % 997) + 0.99, 'order note ' || i from generate_series(1, ${ORDERS}) i;
    insert into shop.order_lines select o, l, 'sku-' || (o * l % 5000), 1 + l, 9.99 * l
      from generate_series(1, ${ORDERS}) o, generate_series(1, ${LINES_PER_ORDER}) l;`);
}

/** The schema and its rows in MySQL types, in the pool's database (which needs `multipleStatements`). */
export async function createMysqlSchema(pool: mysql.Pool): Promise<void> {
  await pool.query(`
    create table customers (id bigint primary key, name varchar(200) not null, email varchar(120), tier int not null default 0,
      updated_at timestamp(6) not null default current_timestamp(6));
    create table orders (id bigint primary key, customer_id bigint not null, status varchar(20) not null,
      total decimal(12,2) not null, placed_at datetime(3) not null default now(3), note text);
    create table order_lines (order_id bigint, line_no int, sku varchar(32) not null, qty int not null,
      price decimal(10,2) not null, primary key (order_id, line_no));`);
  const range = (count: number) => Array.from({ length: count }, (_, index) => index + 1);
  for (let start = 1; start <= CUSTOMERS; start += 1000) {
    const ids = range(Math.min(1000, CUSTOMERS - start + 1)).map((offset) => start + offset - 1);
    await pool.query(`insert into customers (id, name, email) values ${ids.map((id) => `(${id}, 'customer ${id}', 'c${id}@example.com')`).join(',')}`);
  }
  for (let start = 1; start <= ORDERS; start += 1000) {
    const ids = range(Math.min(1000, ORDERS - start + 1)).map((offset) => start + offset - 1);
    await pool.query(`insert into orders (id, customer_id, status, total, note) values ${ids.map((id) => `(${id}, ${1 + (id % CUSTOMERS)}, 'NEW', ${(id % 997) + 0.99}, 'order note ${id}')`).join(',')}`);
    await pool.query(
      `insert into order_lines values ${ids.flatMap((id) => range(LINES_PER_ORDER).map((line) => `(${id}, ${line}, 'sku-${(id * line) % 5000}', ${1 + line}, ${(9.99 * line).toFixed(2)})`)).join(',')}`,
    );
  }
}

/** A table's name in the dialect: `shop.<name>` in Postgres, `<name>` (the connection's database) in MySQL. */
const table = (name: string, dialect: Dialect) => (dialect === 'postgres' ? `shop.${name}` : name);

/**
 * One transaction of `count` row changes, starting at change number `offset`: in turn, order lines (by order
 * range), orders and customers; every tenth transaction hits the first 20 orders again (hot keys).
 */
export function transaction(offset: number, count: number, dialect: Dialect = 'postgres'): string {
  const [lines, orders, customers] = ['order_lines', 'orders', 'customers'].map((name) => table(name, dialect));
  const kind = Math.floor(offset / count) % 3;
  const hot = Math.floor(offset / count) % 10 === 9;
  if (kind === 0) {
    const first = hot ? 1 : 1 + (Math.floor(offset / LINES_PER_ORDER) % (ORDERS - count));
    return `update ${lines} set qty = qty + 1, price = price + 0.01 where order_id >= ${first} and order_id < ${first + Math.ceil(count / LINES_PER_ORDER)}`;
  }
  if (kind === 1) {
    const first = hot ? 1 : 1 + (offset % (ORDERS - count));
    return `update ${orders} set status = case status when 'NEW' then 'PAID' else 'NEW' end, total = total + 1 where id >= ${first} and id < ${first + count}`;
  }
  const first = hot ? 1 : 1 + (offset % (CUSTOMERS - count));
  return `update ${customers} set tier = tier + 1, updated_at = ${dialect === 'postgres' ? 'now()' : 'now(6)'} where id >= ${first} and id < ${first + count}`;
}

/** `perTransaction` (20) row changes of one table, the tables in turn. */
export function latencyTransaction(index: number, perTransaction = 20, dialect: Dialect = 'postgres'): string {
  const [lines, orders, customers] = ['order_lines', 'orders', 'customers'].map((name) => table(name, dialect));
  const first = 1 + ((index * perTransaction) % (ORDERS - perTransaction));
  switch (index % 3) {
    case 0:
      return `update ${lines} set qty = qty + 1 where order_id >= ${first} and order_id < ${first + perTransaction / 2} and line_no <= 2`;
    case 1:
      return `update ${orders} set total = total + 1 where id >= ${first} and id < ${first + perTransaction}`;
    default: {
      const customer = 1 + (first % (CUSTOMERS - perTransaction));
      return `update ${customers} set tier = tier + 1 where id >= ${customer} and id < ${customer + perTransaction}`;
    }
  }
}

/**
 * Commits `total` row changes, `perTransaction` a transaction, with `writers` writers; returns how many rows changed
 * (order lines come in whole orders). A MySQL pool (mysql2) writes the MySQL dialect's statements.
 */
export async function writeBacklog(pool: pg.Pool | mysql.Pool, total: number, perTransaction = 100, writers = 4): Promise<number> {
  const dialect: Dialect = 'getConnection' in pool ? 'mysql' : 'postgres';
  const execute =
    dialect === 'mysql'
      ? async (sql: string) => ((await (pool as mysql.Pool).query<mysql.ResultSetHeader>(sql))[0].affectedRows)
      : async (sql: string) => (await (pool as pg.Pool).query(sql)).rowCount ?? 0;
  let next = 0;
  let changed = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (;;) {
        const offset = next;
        next += perTransaction;
        if (offset >= total) return;
        const rows = await execute(transaction(offset, Math.min(perTransaction, total - offset), dialect));
        changed += rows;
      }
    }),
  );
  return changed;
}
