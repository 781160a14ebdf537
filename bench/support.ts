import { Client } from 'pg';
import { resolveEnvironment } from '../infra';

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
