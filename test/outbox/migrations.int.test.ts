import type { TestDatabase } from '../helpers';
import { append, appendMany, migrateOutbox, outboxMigrations, runMigrations } from '../../outbox';
import { createOutboxDatabase } from './support';

describe('outbox migrations and writer (real Postgres)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_outbox_mig', {}, false);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('creates the outbox and inbox tables exactly as the contract says, once, even with concurrent runners', async () => {
    const results = await Promise.all([1, 2, 3].map(() => migrateOutbox(db.pool, { schema: 'svc' })));
    expect(results.flat().sort()).toEqual(['001_outbox', '002_inbox']);
    expect(await migrateOutbox(db.pool, { schema: 'svc' })).toEqual([]);
    const { rows } = await db.pool.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string; column_default: string | null }>(
      `select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns
       where table_schema = 'svc' and table_name in ('outbox', 'inbox') order by table_name, ordinal_position`,
    );
    expect(rows.map((row) => [row.table_name, row.column_name, row.data_type, row.is_nullable])).toEqual([
      ['inbox', 'consumer', 'character varying', 'NO'],
      ['inbox', 'event_id', 'uuid', 'NO'],
      ['inbox', 'processed_at', 'timestamp with time zone', 'NO'],
      ['outbox', 'id', 'uuid', 'NO'],
      ['outbox', 'aggregatetype', 'character varying', 'NO'],
      ['outbox', 'aggregateid', 'character varying', 'NO'],
      ['outbox', 'type', 'character varying', 'NO'],
      ['outbox', 'payload', 'jsonb', 'YES'],
      ['outbox', 'headers', 'jsonb', 'NO'],
      ['outbox', 'created_at', 'timestamp with time zone', 'NO'],
    ]);
    expect(rows.find((row) => row.column_name === 'headers')?.column_default).toContain("'{}'");
    const ledger = await db.pool.query('select id from svc.strangler_migrations order by id');
    expect(ledger.rows.map((row) => row.id)).toEqual(outboxMigrations().map((migration) => migration.id));
  });

  it('applies only new migrations, in order, and rolls back a failing batch entirely', async () => {
    const first = [{ id: '001_a', sql: 'create table mig_a (x int)' }];
    expect(await runMigrations(db.pool, first, { table: 'ledger_test' })).toEqual(['001_a']);
    const broken = [...first, { id: '002_b', sql: 'create table mig_b (x int)' }, { id: '003_c', sql: 'select nonsense from nowhere' }];
    await expect(runMigrations(db.pool, broken, { table: 'ledger_test' })).rejects.toThrow(/nowhere/);
    const exists = await db.pool.query(`select to_regclass('public.mig_b') as t`);
    expect(exists.rows[0].t).toBeNull();
    const fixed = [...first, { id: '002_b', sql: 'create table mig_b (x int)' }];
    expect(await runMigrations(db.pool, fixed, { table: 'ledger_test' })).toEqual(['002_b']);
  });

  it('writes rows inside the caller transaction, and insert-then-delete leaves the table empty', async () => {
    await migrateOutbox(db.pool);
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      const ids = await appendMany(client, [
        { aggregateType: 'Order', aggregateId: 'o-1', type: 'OrderCreated', payload: { n: 1 }, headers: { origin: 'legacy' } },
        { aggregateType: 'Order', aggregateId: 'o-1', type: 'OrderPaid', payload: { n: 2 } },
      ]);
      await client.query('rollback');
      expect((await db.pool.query('select count(*)::int as n from outbox')).rows[0].n).toBe(0);

      await client.query('begin');
      const kept = await append(client, { aggregateType: 'Order', aggregateId: 'o-2', type: 'OrderCreated', payload: { n: 3 } });
      await append(client, { aggregateType: 'Order', aggregateId: 'o-3', type: 'OrderCreated', payload: {} }, { deleteAfterInsert: true });
      await client.query('commit');
      const { rows } = await db.pool.query('select id, aggregatetype, aggregateid, type, payload, headers from outbox');
      expect(rows).toEqual([{ id: kept, aggregatetype: 'Order', aggregateid: 'o-2', type: 'OrderCreated', payload: { n: 3 }, headers: {} }]);
      expect(ids).toHaveLength(2);
    } finally {
      client.release();
    }
  });
});
