import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { captureEventId, markOrigin, UNAVAILABLE_VALUE_PLACEHOLDER } from '../../outbox';
import { collectRecords, createTestDatabase, eventually, type CollectedRecord, type TestDatabase } from '../helpers';
import { captureRelayOptions } from './capture-support';
import { createTopics, startRelay } from './support';

/** Every object a user could have added: tables, views, triggers, functions, sequences, publications, slots. */
async function databaseObjects(db: TestDatabase): Promise<Record<string, string[]>> {
  const list = async (sql: string) => (await db.pool.query<{ name: string }>(sql)).rows.map((row) => row.name).sort();
  return {
    relations: await list(`select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')`),
    triggers: await list(`select tgname as name from pg_trigger where not tgisinternal`),
    functions: await list(`select p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname not in ('pg_catalog', 'information_schema')`),
    columns: await list(`select attrelid::regclass || '.' || attname as name from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'inventory' and a.attnum > 0`),
    publications: await list(`select pubname as name from pg_publication`),
    slots: await list(`select slot_name as name from pg_replication_slots where database = current_database()`),
  };
}

const envelope = (record: CollectedRecord) => JSON.parse(record.value!) as {
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: Record<string, unknown>;
  op: string;
  ts_ms: number;
  transaction: null;
};

describe('table-capture relay (mode tables): records of real changes (real Postgres and Kafka)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('sfg_capture');
    await db.pool.query(`
      create schema inventory;
      create table inventory.order_lines (
        order_id bigint, line_no int, "order" text not null, "user" varchar(40), qty int not null default 1,
        price numeric(10,2), note text, changed_at timestamptz default '2024-05-01 10:00:00.5+02', tags text[],
        primary key (order_id, line_no));
      create table inventory."Customers" (id int primary key, name text);
      alter table inventory."Customers" replica identity full;
      insert into inventory.order_lines (order_id, line_no, "order", qty) values (99, 1, 'written before the relay ever ran', 1);`);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('publishes inserts, updates and deletes as Debezium envelopes keyed by the composite key, adding only a publication and a slot', async () => {
    const before = await databaseObjects(db);
    const options = captureRelayOptions(db, ['inventory.order_lines', 'inventory.Customers']);
    const prefix = options.capture!.topicPrefix;
    const lines = `${prefix}.inventory.order_lines`;
    const customers = `${prefix}.inventory.Customers`;
    await createTopics([lines, customers], 1); // one partition: the records in commit order
    const registry = new Registry();
    const { relay } = await startRelay(options, registry);
    const bigNote = randomBytes(1_500).toString('hex'); // 3 KB that pglz cannot shrink: stored out of line (TOAST)
    try {
      await db.pool.query(`insert into inventory.order_lines (order_id, line_no, "order", "user", qty, price, note, tags) values
        (1, 1, 'first', 'ann', 2, -12.50, $1, '{a,"b c",NULL}'), (1, 2, 'second', null, 1, 3.00, 'short', '{}')`, [bigNote]);
      await db.pool.query(`update inventory.order_lines set qty = 3 where order_id = 1 and line_no = 1`); // note is TOASTed and unchanged
      await db.pool.query(`update inventory.order_lines set note = $1 where order_id = 1 and line_no = 1`, [`${bigNote}!`]); // changed: sent
      const client = await db.pool.connect();
      try {
        await client.query('begin');
        await markOrigin(client, 'service');
        await client.query(`update inventory.order_lines set "user" = 'bob' where order_id = 1 and line_no = 2`);
        await client.query(`insert into inventory."Customers" values (7, 'Zoë')`);
        await client.query('commit');
      } finally {
        client.release();
      }
      await db.pool.query(`update inventory."Customers" set name = 'Zoe' where id = 7`);
      await db.pool.query(`delete from inventory.order_lines where order_id = 1 and line_no = 2`);

      const records = await collectRecords({ topics: [lines, customers], count: 9, timeoutMs: 30_000, settleMs: 500 });
      expect(records).toHaveLength(9);
      const lineRecords = records.filter((record) => record.topic === lines);
      const [insert1, insert2, toastUnchanged, toastChanged, marked, deleted, tombstone] = lineRecords;

      // Keys: the primary key's columns in the key's order, as JSON (Debezium's key with schemas disabled).
      expect(lineRecords.map((record) => record.key)).toEqual([
        '{"order_id":1,"line_no":1}',
        '{"order_id":1,"line_no":2}',
        '{"order_id":1,"line_no":1}',
        '{"order_id":1,"line_no":1}',
        '{"order_id":1,"line_no":2}',
        '{"order_id":1,"line_no":2}',
        '{"order_id":1,"line_no":2}',
      ]);
      const created = envelope(insert1!);
      expect(created).toMatchObject({
        before: null,
        after: { order_id: 1, line_no: 1, order: 'first', user: 'ann', qty: 2, price: '+x4=', note: bigNote, changed_at: '2024-05-01T08:00:00.500000Z', tags: ['a', 'b c', null] },
        op: 'c',
        transaction: null,
      });
      expect(created.source).toMatchObject({ connector: 'postgresql', name: prefix, snapshot: 'false', db: db.name, schema: 'inventory', table: 'order_lines', xmin: null });
      expect(typeof created.source.lsn).toBe('number');
      expect(typeof created.source.txId).toBe('number');
      expect(created.source.sequence).toMatch(/^\[("\d+"|null),"\d+"\]$/);
      expect(Math.abs(created.ts_ms - Date.now())).toBeLessThan(60_000);
      expect(envelope(insert2!).after).toMatchObject({ user: null, price: 'ASw=', tags: [] });

      // Headers: origin, a deterministic id, type, the transaction and its positions.
      expect(insert1!.headers).toMatchObject({ origin: 'legacy', type: 'c', txid: String(created.source.txId) });
      expect(insert1!.headers.id).toBe(
        captureEventId({ db: db.name, lsn: created.source.lsn as number, schema: 'inventory', table: 'order_lines', op: 'c', key: insert1!.key! }),
      );
      expect(insert1!.headers.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(insert1!.headers.commit_lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(insert1!.headers.txid).toBe(insert2!.headers.txid);

      // TOAST: the unchanged 3 KB note is not sent by pgoutput (placeholder); once changed, it is.
      expect(envelope(toastUnchanged!)).toMatchObject({ before: null, after: { qty: 3, note: UNAVAILABLE_VALUE_PLACEHOLDER }, op: 'u' });
      expect(envelope(toastChanged!).after).toMatchObject({ note: `${bigNote}!`, qty: 3 });

      // Origin: only the marked transaction carries the other origin, on every table it wrote.
      expect(marked!.headers.origin).toBe('service');
      const customerRecords = records.filter((record) => record.topic === customers);
      expect(customerRecords.map((record) => [record.headers.origin, envelope(record).op])).toEqual([['service', 'c'], ['legacy', 'u']]);
      expect(lineRecords.filter((record) => record.headers.origin === 'service')).toHaveLength(1);
      // REPLICA IDENTITY FULL gives the whole before image; DEFAULT gives none on update and the key on delete.
      expect(envelope(customerRecords[1]!)).toMatchObject({ before: { id: 7, name: 'Zoë' }, after: { id: 7, name: 'Zoe' } });
      expect(envelope(marked!).before).toBeNull();
      expect(envelope(deleted!)).toMatchObject({ before: { order_id: 1, line_no: 2, order: null }, after: null, op: 'd' });
      expect(tombstone).toMatchObject({ key: '{"order_id":1,"line_no":2}', value: null, headers: { origin: 'legacy' } });
      // The row written before the slot existed is not captured (no snapshot).
      expect(records.some((record) => record.key?.includes('"order_id":99'))).toBe(false);

      const published = await registry.getSingleMetric('strangler_outbox_published_total')!.get();
      expect(published.values.find((value) => value.labels.aggregatetype === 'inventory.order_lines')?.value).toBe(7);
      expect(relay.isLeader).toBe(true);
      // The heartbeat refreshes the slot's lag (every heartbeatIntervalMs); the leader gauge says who publishes.
      const gauge = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.find((value) => value.labels.relay === options.name);
      await eventually(async () => (await gauge('strangler_outbox_slot_lag_bytes')) !== undefined, 10_000, 'the slot lag gauge');
      expect((await gauge('strangler_outbox_leader'))?.value).toBe(1);
    } finally {
      await relay.stop();
    }

    // Nothing added but the publication and the slot: no table, column, trigger or function.
    const after = await databaseObjects(db);
    expect(after).toEqual({ ...before, publications: [options.publicationName], slots: [options.slotName] });
    const [publication] = (await db.pool.query(`select obj_description(oid, 'pg_publication') as comment from pg_publication where pubname = $1`, [options.publicationName])).rows;
    expect(publication.comment).toMatch(new RegExp(`replication slot "${options.slotName}" created`));
  });

  it('honours tombstonesOnDelete false and skips TRUNCATE (counted, not published)', async () => {
    await db.pool.query(`create table public.notes (id int primary key, body text); insert into public.notes values (1, 'a'), (2, 'b')`);
    const options = captureRelayOptions(db, ['notes'], { capture: { tombstonesOnDelete: false } });
    const topic = `${options.capture!.topicPrefix}.public.notes`;
    await createTopics([topic]);
    const registry = new Registry();
    const { relay } = await startRelay(options, registry);
    try {
      await db.pool.query(`delete from public.notes where id = 1`);
      await db.pool.query(`truncate public.notes`);
      await db.pool.query(`insert into public.notes values (3, 'c')`);
      const records = await collectRecords({ topics: [topic], count: 2, timeoutMs: 30_000, settleMs: 500 });
      expect(records.map((record) => [record.key, record.value === null ? null : envelope(record).op])).toEqual([['{"id":1}', 'd'], ['{"id":3}', 'c']]);
      const truncates = await registry.getSingleMetric('strangler_capture_truncates_skipped_total')!.get();
      expect(truncates.values).toEqual([expect.objectContaining({ value: 1, labels: expect.objectContaining({ table: 'public.notes' }) })]);
    } finally {
      await relay.stop();
    }
  });
});
