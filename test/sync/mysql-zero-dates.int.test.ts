import { MySqlDatabase, MySqlSideStore, openAggregates, parseMapping, type AggregateStores } from '../../sync';
import { createTestDatabase, createTestMysqlDatabase, type TestDatabase, type TestMysqlDatabase } from '../helpers';

/**
 * A legacy that keeps "no date" as MySQL's zero date in NOT NULL DATETIME columns, and NOT NULL text without a default
 * that only it fills (WordPress's wp_posts is one): a translator writes '0000-00-00 00:00:00' for the service's null,
 * and the insert-only columns once. The MySQL writer sends the zero date as is, reads it back as null, and the sync's
 * hash of the document it is about to write (the service's shape of the legacy target) takes the zero date as null,
 * so the write-back compares equal with what it wrote instead of failing on an invalid date.
 */
describe('MySQL zero dates and insert-only NOT NULL columns written back (real MariaDB and Postgres)', () => {
  let legacy: TestMysqlDatabase;
  let database: MySqlDatabase;
  let service: TestDatabase;
  let stores: AggregateStores;

  beforeAll(async () => {
    legacy = await createTestMysqlDatabase('sfg_zero_dates');
    await legacy.pool.query(`create table entries (
      id bigint unsigned not null primary key,
      title text not null,
      published_gmt datetime not null default '0000-00-00 00:00:00',
      modified_gmt datetime not null,
      pinged text not null
    )`);
    service = await createTestDatabase('sfg_zero_dates_service');
    await service.pool.query('create table items (id bigint primary key, title text not null, published_at timestamptz, modified_at timestamptz, revision integer not null, written_by text)');
    database = new MySqlDatabase(legacy.url);
    const mapping = parseMapping({
      capture: { topicPrefix: 'zero' },
      aggregates: {
        entry: {
          owner: 'service',
          legacy: { captured: true, table: 'entries', key: 'id', fields: { id: 'id', title: 'title', publishedAt: 'published_gmt', modifiedAt: 'modified_gmt', pinged: 'pinged' }, insertOnly: ['pinged'] },
          service: { table: 'items', key: 'id', version: 'revision', origin: 'written_by', fields: { id: 'id', title: 'title', publishedAt: 'published_at', modifiedAt: 'modified_at', revision: 'revision' } },
          toLegacy: { pinged: { value: '' } },
        },
      },
    });
    [stores] = (await openAggregates(mapping, [...mapping.aggregates.values()], { legacy: database, service: service.pool })) as [AggregateStores];
  });
  const store = () => stores.legacy as unknown as MySqlSideStore;
  afterAll(async () => {
    await database?.end();
    await Promise.all([legacy?.drop(), service?.drop()]);
  });

  it('writes the zero date as is into NOT NULL DATETIMEs, reads it back as null, and hashes the target as what it reads back', async () => {
    const legacyStore = store();
    // What a translator gives for a draft: the service's null instants as the zero date, the insert-only text once.
    const draft = { id: '9', title: 'Draft', publishedAt: '0000-00-00 00:00:00', modifiedAt: '0000-00-00 00:00:00', pinged: '' };
    expect(await legacyStore.writeMany(database, [draft], 'service', new Set(['9']))).toBe(true);
    const [rows] = await legacy.pool.query('select cast(published_gmt as char) as published, cast(modified_gmt as char) as modified, pinged from entries where id = 9');
    expect(rows).toEqual([{ published: '0000-00-00 00:00:00', modified: '0000-00-00 00:00:00', pinged: '' }]);
    const readBack = (await legacyStore.readMany(database, ['9'])).get('9')!;
    expect(readBack).toMatchObject({ publishedAt: null, modifiedAt: null });
    const hash = (document: Record<string, unknown>) => stores.service.partsHash(stores.mapping.toService(document));
    expect(hash(draft)).toBe(hash(readBack));
    expect(hash(draft)).toBe(hash({ ...draft, publishedAt: null, modifiedAt: null }));

    // Published: real instants; an update leaves the insert-only column as the legacy left it.
    await legacy.pool.query("update entries set pinged = 'http://example.com/' where id = 9");
    const published = { ...draft, title: 'Published', publishedAt: '2026-12-07T10:00:00Z', modifiedAt: '2026-12-07T10:05:00+00:00' };
    expect(await legacyStore.writeMany(database, [published], 'service')).toBe(true);
    const [after] = await legacy.pool.query('select title, cast(published_gmt as char) as published, pinged from entries where id = 9');
    expect(after).toEqual([{ title: 'Published', published: '2026-12-07 10:00:00', pinged: 'http://example.com/' }]);
    expect(hash(published)).not.toBe(hash(draft));
    expect(hash(published)).toBe(hash((await legacyStore.readMany(database, ['9'])).get('9')!));
  });

  it("writes zero dates back where the session's sql_mode refuses them (MySQL 5.7 and 8.0's default), strict mode kept", async () => {
    // One connection, given MySQL 8's default modes: a plain transaction refuses the zero date, a write-back's
    // (marked) session drops NO_ZERO_DATE and NO_ZERO_IN_DATE only.
    const single = new MySqlDatabase(legacy.url, { connectionLimit: 1 });
    try {
      await single.query("set session sql_mode = 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'");
      const insert = (id: number) => (session: { query(sql: string, params?: unknown[]): Promise<unknown> }) =>
        session.query("insert into entries (id, title, published_gmt, modified_gmt, pinged) values (?, 'Zero', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '')", [id]);
      await expect(single.transaction(insert(20))).rejects.toThrow(/Incorrect datetime value|Invalid default value|0000-00-00/);
      await single.transaction(insert(21), { marked: true });
      const [mode] = await single.query('select @@session.sql_mode as mode');
      expect(String(mode!.mode).split(',')).toEqual(['ONLY_FULL_GROUP_BY', 'STRICT_TRANS_TABLES', 'ERROR_FOR_DIVISION_BY_ZERO', 'NO_ENGINE_SUBSTITUTION']);
      expect((await store().readMany(database, ['20', '21'])).get('21')).toMatchObject({ publishedAt: null, modifiedAt: null });
      // Strict mode still holds: a NOT NULL column without a default, left out, is refused.
      await expect(single.transaction((session) => session.query("insert into entries (id, title, modified_gmt) values (22, 'No pinged', now())"), { marked: true })).rejects.toThrow(/pinged/);
    } finally {
      await single.end();
    }
  });
});
