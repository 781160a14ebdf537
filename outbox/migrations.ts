import pg from 'pg';
import { qualified, quoteIdent } from './sql';

export interface Migration {
  /** Sortable and unique, e.g. `001_outbox`. Applied in array order; never edit one that shipped. */
  id: string;
  sql: string;
}

export interface MigrationOptions {
  /** Table that records applied migrations. Default `strangler_migrations`. */
  table?: string;
  /** Schema of that table (created if missing). Default `public`. */
  schema?: string;
}

/**
 * Applies, in order and in one transaction, the migrations whose id is not yet recorded. A transaction-scoped
 * advisory lock makes concurrent runners (several relay instances starting at once) wait for each other.
 * Returns the ids applied by this call.
 */
export async function runMigrations(
  client: pg.ClientBase | pg.Pool,
  migrations: Migration[],
  options: MigrationOptions = {},
): Promise<string[]> {
  const schema = options.schema ?? 'public';
  const ledger = qualified(schema, options.table ?? 'strangler_migrations');
  const connection = client instanceof pg.Pool ? await client.connect() : client;
  try {
    await connection.query('begin');
    try {
      await connection.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [`strangler-migrations:${ledger}`]);
      await connection.query(`create schema if not exists ${quoteIdent(schema)}`);
      await connection.query(
        `create table if not exists ${ledger} (id varchar(255) primary key, applied_at timestamptz not null default now())`,
      );
      const { rows } = await connection.query<{ id: string }>(`select id from ${ledger}`);
      const done = new Set(rows.map((row) => row.id));
      const applied: string[] = [];
      for (const migration of migrations) {
        if (done.has(migration.id)) continue;
        await connection.query(migration.sql);
        await connection.query(`insert into ${ledger} (id) values ($1)`, [migration.id]);
        applied.push(migration.id);
      }
      await connection.query('commit');
      return applied;
    } catch (error) {
      await connection.query('rollback').catch(() => undefined);
      throw error;
    }
  } finally {
    if (client instanceof pg.Pool) (connection as pg.PoolClient).release();
  }
}

/** The outbox (Debezium EventRouter columns) and inbox tables, as ARCHITECTURE.md specifies them. */
export function outboxMigrations(options: { schema?: string } = {}): Migration[] {
  const schema = options.schema ?? 'public';
  return [
    {
      id: '001_outbox',
      sql: `
        create table if not exists ${qualified(schema, 'outbox')} (
          id uuid primary key,
          aggregatetype varchar(255) not null,
          aggregateid varchar(255) not null,
          type varchar(255) not null,
          payload jsonb,
          headers jsonb not null default '{}',
          created_at timestamptz not null default now()
        )`,
    },
    {
      id: '002_inbox',
      sql: `
        create table if not exists ${qualified(schema, 'inbox')} (
          consumer varchar(255) not null,
          event_id uuid not null,
          processed_at timestamptz not null default now(),
          primary key (consumer, event_id)
        )`,
    },
  ];
}

/** Creates the outbox and inbox tables (and the migrations ledger) in `schema`. Returns the ids applied now. */
export async function migrateOutbox(client: pg.ClientBase | pg.Pool, options: { schema?: string } = {}): Promise<string[]> {
  return runMigrations(client, outboxMigrations(options), { schema: options.schema });
}
