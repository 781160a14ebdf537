import mysql from 'mysql2/promise';
import { Client } from 'pg';
import { mariadbEnvironment, resolveEnvironment } from '../infra';
import type { PublishRecord, Publisher } from '../outbox';

const env = resolveEnvironment();

/** Runs one statement on the server's admin database (create or drop a benchmark database). */
export async function admin(sql: string): Promise<void> {
  const client = new Client({ connectionString: env.databaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Drops a benchmark database once its slot's walsender has exited (it does so asynchronously after stop). */
export async function dropDatabase(database: string): Promise<void> {
  const client = new Client({ connectionString: env.databaseUrl });
  await client.connect();
  try {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const { rows } = await client.query('select count(*)::int as n from pg_replication_slots where database = $1 and active', [database]);
      if (rows[0].n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await client.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = $1 and not active', [database]);
    await client.query(`drop database if exists "${database}" with (force)`);
  } finally {
    await client.end();
  }
}

/** The machine's MySQL/MariaDB server (MYSQL_URL, default mysql://root@127.0.0.1:3306/), or one of its databases. */
export function mysqlUrl(database?: string): string {
  const url = new URL(mariadbEnvironment().url);
  url.pathname = `/${database ?? ''}`;
  return url.toString();
}

/** Runs one statement on the MySQL/MariaDB server (create or drop a benchmark database). */
export async function mysqlAdmin(sql: string): Promise<void> {
  const connection = await mysql.createConnection({ uri: mysqlUrl() });
  try {
    await connection.query(sql);
  } finally {
    await connection.end();
  }
}

export async function waitFor(predicate: () => boolean, timeoutMs: number, what = 'the benchmark'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`benchmark timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/**
 * Wraps a publisher to time its acknowledgements: the first and the last, how many records, and the last
 * acknowledgement per `keyOf(record)` (default: the event id). `counts`: which records are timed (default all; the
 * binlog relay also sends its position records through the publisher).
 */
export class TimedPublisher implements Publisher {
  readonly ackedAt = new Map<string, number>();
  acked = 0;
  firstAckMs = 0;
  lastAckMs = 0;
  constructor(
    private readonly inner: Publisher,
    private readonly keyOf: (record: PublishRecord) => string = (record) => record.headers.id!,
    private readonly counts?: (record: PublishRecord) => boolean,
  ) {}
  connect() {
    return this.inner.connect();
  }
  disconnect() {
    return this.inner.disconnect();
  }
  async send(records: PublishRecord[]): Promise<void> {
    await this.inner.send(records);
    const now = performance.now();
    const timed = this.counts ? records.filter(this.counts) : records;
    if (this.counts && !timed.length) return;
    if (!this.firstAckMs) this.firstAckMs = now;
    this.lastAckMs = now;
    this.acked += timed.length;
    for (const record of timed) this.ackedAt.set(this.keyOf(record), now);
  }
}

/**
 * Offers `rate` events/s for `seconds`, open-loop: transaction i (of `perTransaction` events) starts at start +
 * i * interval whether or not earlier ones finished. Resolves when all finished, with the rate achieved.
 */
export async function offerOpenLoop(
  load: { rate: number; seconds: number; perTransaction: number },
  transaction: (index: number) => Promise<void>,
): Promise<number> {
  const transactions = Math.round((load.rate * load.seconds) / load.perTransaction);
  const intervalMs = (1000 * load.perTransaction) / load.rate;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let index = 0; index < transactions; index += 1) {
    const wait = started + index * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(transaction(index));
  }
  await Promise.all(inFlight);
  return (transactions * load.perTransaction) / ((performance.now() - started) / 1000);
}
