import { canonicalKeys, readSnapshot } from '../../sync/captured';
import { openAggregates, parseMapping, type AggregateStores } from '../../sync';
import { createTestDatabase, type TestDatabase } from '../helpers';

/**
 * The by-key reads and multi-row writes of a captured sync against schemas never seen: keys of several types
 * (text with quotes and commas, uuid, numeric, char), reserved-word and mixed names, values that need escaping.
 */
describe('SideStore by keys: any key type, any value', () => {
  let legacy: TestDatabase;
  let service: TestDatabase;

  beforeAll(async () => {
    [legacy, service] = await Promise.all([createTestDatabase('sfg_capstore_legacy'), createTestDatabase('sfg_capstore_service')]);
    for (const db of [legacy, service]) {
      await db.pool.query(`
        create schema "select";
        create table "select"."table" (key text primary key, "from" text, amount numeric(10,2), flag boolean, at timestamptz, doc jsonb, raw bytea, v integer);
        create table "select".lines (id serial primary key, key text not null, "group" text, n integer);
        alter table "select".lines replica identity full;
        create table by_uuid (id uuid primary key, label text, v integer);
        create table by_numeric (id numeric(10,2) primary key, label text, v integer);
        create table by_char (id char(3) primary key, label text, v integer);
      `);
    }
  });
  afterAll(async () => {
    await Promise.all([legacy?.drop(), service?.drop()]);
  });

  const side = (table: string, fields: Record<string, string>, extra: object = {}) => ({ table, key: 'id', fields, ...extra });
  const open = async (aggregates: Record<string, unknown>): Promise<AggregateStores[]> => {
    const mapping = parseMapping({ capture: { topicPrefix: 'x' }, aggregates });
    return openAggregates(mapping, [...mapping.aggregates.values()], { legacy: legacy.pool, service: service.pool });
  };

  it('writes and reads back documents whose keys and values need quoting, in one round trip each', async () => {
    const [stores] = await open({
      thing: {
        owner: 'service',
        legacy: {
          captured: true,
          table: 'select.table',
          key: 'id',
          fields: { id: 'key', from: 'from', amount: 'amount', flag: 'flag', at: 'at', doc: 'doc', raw: 'raw' },
          joined: [{ table: 'select.lines', key: 'key', as: 'lines', position: 'n', fields: { group: 'group' } }],
        },
        service: {
          table: 'select.table',
          key: 'id',
          version: 'n',
          fields: { id: 'key', from: 'from', amount: 'amount', flag: 'flag', at: 'at', doc: 'doc', raw: 'raw', n: 'v' },
          joined: [{ table: 'select.lines', key: 'key', as: 'lines', position: 'n', fields: { group: 'group' } }],
        },
        toService: { n: { value: 0 } },
      },
    });
    const documents = [
      { id: 'a"b,c', from: "it's \\ {odd}", amount: '12.50', flag: true, at: '2026-01-02T03:04:05.678Z', doc: { z: 1, a: ['x', null] }, raw: Buffer.from([0, 1, 254]), lines: [{ group: 'g"1' }, { group: null }] },
      { id: 'NULL', from: null, amount: null, flag: false, at: null, doc: null, raw: null, lines: [] },
      { id: ' spaced ', from: '', amount: '-0.01', flag: null, at: null, doc: [], raw: null, lines: [{ group: ',' }] },
    ];
    const client = await legacy.pool.connect();
    try {
      await client.query('begin');
      expect(await stores!.legacy.writeMany(client, documents, 'legacy', new Set(documents.map((document) => document.id)))).toBe(true);
      await client.query('commit');
      // Written again as absent: the rows exist now, so the write answers false and writes nothing.
      await client.query('begin');
      expect(await stores!.legacy.writeMany(client, [documents[0]!], 'legacy', new Set([documents[0]!.id]))).toBe(false);
      await client.query('rollback');
      const read = await stores!.legacy.readConsistent(client, ['a"b,c', 'NULL', ' spaced ', 'missing']);
      expect([...read.keys()].sort()).toEqual([' spaced ', 'NULL', 'a"b,c']);
      expect(read.get('a"b,c')).toEqual({ ...documents[0], lines: [{ group: 'g"1' }, { group: null }] });
      expect(read.get('NULL')).toEqual(documents[1]);
      expect(read.get(' spaced ')).toEqual(documents[2]);
      expect(await stores!.legacy.readMany(client, ['a"b,c'])).toEqual(new Map([['a"b,c', read.get('a"b,c')]]));
      await client.query('begin');
      await stores!.legacy.deleteMany(client, ['a"b,c']);
      await client.query('commit');
      expect((await stores!.legacy.readConsistent(client, ['a"b,c'])).size).toBe(0);
      expect((await legacy.pool.query(`select count(*)::int as n from "select".lines where key = 'a"b,c'`)).rows[0].n).toBe(0);
    } finally {
      client.release();
    }
  });

  it.each([
    ['by_uuid', 'B3C4A1DE-0000-4000-8000-000000000001', 'b3c4a1de-0000-4000-8000-000000000001'],
    ['by_numeric', '12.5', '12.50'],
    ['by_char', 'ab', 'ab'],
  ])('%s: a key reads in the form Postgres prints it, whatever form the record gave', async (table, given, canonical) => {
    const [stores] = await open({ thing: { owner: 'service', legacy: { captured: true, ...side(table, { id: 'id', label: 'label' }) }, service: side(table, { id: 'id', label: 'label', v: 'v' }, { version: 'v' }), toService: { v: { value: 1 } } } });
    const type = stores!.legacy.sqlTypeOf(table, 'id')!;
    const forms = await canonicalKeys(legacy.pool, [given], type);
    expect(forms.get(given)).toBe(canonical);
    const client = await legacy.pool.connect();
    try {
      await client.query('begin');
      await stores!.legacy.writeMany(client, [{ id: given, label: 'x' }], 'legacy', new Set([canonical]));
      await client.query('commit');
      const read = await stores!.legacy.readMany(client, [canonical]);
      expect([...read.keys()]).toEqual([canonical]);
      expect((await stores!.legacy.lockMany(client, [given])).has(canonical)).toBe(true);
    } finally {
      client.release();
    }
  });

  it('refuses a captured joined table whose deletes would not name their aggregate, with the command to run', async () => {
    await legacy.pool.query(`create table parts (id serial primary key, owner_key text not null, label text)`);
    await service.pool.query(`create table parts (id serial primary key, owner_key text not null, label text)`);
    await expect(
      open({
        thing: {
          owner: 'service',
          legacy: { captured: true, ...side('select.table', { id: 'key' }), joined: [{ table: 'parts', key: 'owner_key', as: 'parts', fields: { label: 'label' } }] },
          service: { ...side('select.table', { id: 'key', n: 'v' }), version: 'n', joined: [{ table: 'parts', key: 'owner_key', as: 'parts', fields: { label: 'label' } }] },
          toService: { n: { value: 0 } },
        },
      }),
    ).rejects.toMatchObject({
      issues: [{ path: 'aggregates.thing.legacy.joined.0.key', message: expect.stringContaining('ALTER TABLE "parts" REPLICA IDENTITY FULL') }],
    });
  });

  it('reads a captured change only once its transaction is visible: a change can arrive before the commit shows', async () => {
    const [stores] = await open({
      thing: {
        owner: 'service',
        legacy: { captured: true, ...side('by_uuid', { id: 'id', label: 'label' }) },
        service: { ...side('by_uuid', { id: 'id', label: 'label', n: 'v' }), version: 'n' },
        toService: { n: { value: 0 } },
      },
    });
    const id = '7d7b1f7e-6f59-4d7b-9d35-8e1a3b2c4d5e';
    await legacy.pool.query(`insert into by_uuid (id, label) values ($1, 'before')`, [id]);
    // The writer's transaction stands for one whose commit logical decoding already sent but other sessions do not
    // see yet: the read must wait for it instead of answering the previous content.
    const writer = await legacy.pool.connect();
    try {
      await writer.query('begin');
      await writer.query(`update by_uuid set label = 'after' where id = $1`, [id]);
      const txid = Number((await writer.query<{ xid: string }>('select pg_current_xact_id()::text::bigint % 4294967296 as xid')).rows[0]!.xid);
      let read: Map<string, Record<string, unknown>> | undefined;
      const reading = readSnapshot(legacy.pool, stores!.legacy, [id], { visibleTransactions: [txid] }).then((documents) => (read = documents));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(read).toBeUndefined();
      await writer.query('commit');
      await reading;
      expect(read!.get(id)).toMatchObject({ label: 'after' });
      // Without transactions to wait for, or once they are visible, it reads at once.
      expect((await readSnapshot(legacy.pool, stores!.legacy, [id], { visibleTransactions: [txid] })).get(id)).toMatchObject({ label: 'after' });
      expect((await readSnapshot(legacy.pool, stores!.legacy, [id])).get(id)).toMatchObject({ label: 'after' });
    } finally {
      writer.release();
    }
  });

  it('leaves insert-only columns alone on update and increments the lock version, as the application would', async () => {
    await legacy.pool.query(`create table tree_items (id integer primary key, label text, root_id integer, lft integer, rgt integer, lock_version integer not null default 0)`);
    await service.pool.query(`create table tree_items (id integer primary key, label text, v integer)`);
    const [stores] = await open({
      item: {
        owner: 'service',
        legacy: { captured: true, ...side('tree_items', { id: 'id', label: 'label', rootId: 'root_id', lft: 'lft', rgt: 'rgt' }), insertOnly: ['rootId', 'lft', 'rgt'], lockVersion: 'lock_version' },
        service: { ...side('tree_items', { id: 'id', label: 'label', n: 'v' }), version: 'n' },
        toService: { n: { value: 0 } },
        toLegacy: { rootId: 'id', lft: { value: 1 }, rgt: { value: 2 } },
      },
    });
    const client = await legacy.pool.connect();
    const row = async (id: number) => (await client.query('select label, root_id, lft, rgt, lock_version from tree_items where id = $1', [id])).rows[0];
    try {
      // A new row takes every field and the lock version's default; a batch upsert and a row-by-row one agree.
      expect(await stores!.legacy.writeMany(client, [{ id: 1, label: 'root', rootId: 1, lft: 1, rgt: 2 }], 'service', new Set(['1']))).toBe(true);
      expect(await row(1)).toEqual({ label: 'root', root_id: 1, lft: 1, rgt: 2, lock_version: 0 });
      // The application moves it into a tree; the sync's next write keeps its place and bumps its lock version.
      await client.query('update tree_items set root_id = 9, lft = 4, rgt = 5, lock_version = lock_version + 1 where id = 1');
      expect(await stores!.legacy.writeMany(client, [{ id: 1, label: 'renamed', rootId: 1, lft: 1, rgt: 2 }], 'service')).toBe(true);
      expect(await row(1)).toEqual({ label: 'renamed', root_id: 9, lft: 4, rgt: 5, lock_version: 2 });
      await client.query('begin');
      await client.query(stores!.legacy.writeStatements([{ id: 1, label: 'again', rootId: 1, lft: 1, rgt: 2 }, { id: 2, label: 'second', rootId: 2, lft: 1, rgt: 2 }], 'service').join(';'));
      await client.query('commit');
      expect(await row(1)).toEqual({ label: 'again', root_id: 9, lft: 4, rgt: 5, lock_version: 3 });
      expect(await row(2)).toEqual({ label: 'second', root_id: 2, lft: 1, rgt: 2, lock_version: 0 });
    } finally {
      client.release();
    }
  });

  it('refuses insert-only fields that are not fields or are the key, a lock version that is a field or not an integer', async () => {
    expect(() =>
      parseMapping({
        capture: { topicPrefix: 'x' },
        aggregates: {
          item: {
            owner: 'service',
            legacy: { captured: true, ...side('tree_items', { id: 'id', label: 'label', lock: 'lock_version' }), insertOnly: ['id', 'nope'], lockVersion: 'lock_version' },
            service: { ...side('tree_items', { id: 'id', label: 'label', n: 'v', lock: 'v' }), version: 'n' },
            toService: { n: { value: 0 } },
          },
        },
      }),
    ).toThrow(
      expect.objectContaining({
        issues: expect.arrayContaining([
          { path: 'aggregates.item.legacy.insertOnly.0', message: "'id' is the key: it is never updated anyway" },
          { path: 'aggregates.item.legacy.insertOnly.1', message: "'nope' must be a field of the main table (aggregates.item.legacy.fields)" },
          { path: 'aggregates.item.legacy.lockVersion', message: expect.stringContaining("column 'lock_version' is a mapped field") },
        ]),
      }),
    );
    await legacy.pool.query(`create table noted_items (id integer primary key, label text, note text)`);
    await service.pool.query(`create table noted_items (id integer primary key, label text, v integer)`);
    await expect(
      open({
        item: {
          owner: 'service',
          legacy: { captured: true, ...side('noted_items', { id: 'id', label: 'label' }), lockVersion: 'note' },
          service: { ...side('noted_items', { id: 'id', label: 'label', n: 'v' }), version: 'n' },
          toService: { n: { value: 0 } },
        },
      }),
    ).rejects.toMatchObject({ issues: [{ path: 'aggregates.item.legacy.lockVersion', message: 'noted_items.note is text; a lock version must be an integer column' }] });
  });
});
