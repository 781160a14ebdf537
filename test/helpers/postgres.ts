import { Client, Pool, type PoolConfig } from 'pg';
import { withDatabase } from '../../infra';
import { testEnv, uniqueName } from './env';

export interface TestDatabase {
  name: string;
  url: string;
  pool: Pool;
  /** Closes the pool, drops replication slots on the database, then drops the database. */
  drop(): Promise<void>;
}

async function adminQuery(sql: string, params: unknown[] = []): Promise<void> {
  const client = new Client({ connectionString: testEnv().databaseUrl });
  await client.connect();
  try {
    await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database named after the test, with a pool on it. */
export async function createTestDatabase(prefix = 'sfg_test', poolConfig: PoolConfig = {}): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  await adminQuery(`create database "${name}"`);
  const url = withDatabase(testEnv().databaseUrl, name);
  const pool = new Pool({ connectionString: url, max: 10, ...poolConfig });
  // pool.end() resolves before its sockets have closed, so the forced DROP below may terminate one of them; the
  // pool reports that as an 'error' event, which must not crash the test process.
  pool.on('error', () => undefined);
  let dropped = false;
  return {
    name,
    url,
    pool,
    async drop() {
      if (dropped) return;
      dropped = true;
      await pool.end();
      await adminQuery(
        `select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = $1 and not active`,
        [name],
      );
      await adminQuery(`drop database if exists "${name}" with (force)`);
    },
  };
}
