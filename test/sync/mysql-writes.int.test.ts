import { parseRelayOptions } from '../../outbox';
import { MySqlDatabase, MySqlSideStore, parseMapping, type MappingIssue, type MySqlSession } from '../../sync';
import type { Document } from '../../sync/translate';
import { collectRecords, createTestMysqlDatabase, testEnv, uniqueName, type TestMysqlDatabase } from '../helpers';
import { createTopics, startRelay } from '../outbox/support';

const SCHEMA = `
  create table posts (
    id int unsigned not null primary key,
    title varchar(200) character set utf8mb4 not null,
    active tinyint(1) not null,
    flag bit(1) null,
    price decimal(12,4) null,
    big bigint unsigned null,
    created datetime(6) null,
    changed timestamp(3) null,
    attrs json null,
    released date null,
    raw varbinary(16) null,
    author_id int null,
    lock_version int not null default 0,
    rev int not null,
    written_by varchar(32) null
  );
  create table post_meta (post_id int unsigned not null primary key, views int not null);
  create table post_tags (post_id int unsigned not null, pos int not null, tag varchar(40) not null, primary key (post_id, pos));
  create table post_links (post_id int unsigned not null, url varchar(200) not null);
`;

const SIDE = {
  table: 'posts',
  key: 'id',
  version: 'rev',
  origin: 'written_by',
  fields: { id: 'id', title: 'title', active: 'active', flag: 'flag', price: 'price', big: 'big', created: 'created', changed: 'changed', attrs: 'attrs', released: 'released', raw: 'raw', author: 'author_id', rev: 'rev' },
  joined: [
    { table: 'post_meta', key: 'post_id', fields: { views: 'views' } },
    { table: 'post_tags', key: 'post_id', as: 'tags', position: 'pos', fields: { tag: 'tag' } },
    { table: 'post_links', key: 'post_id', as: 'links', fields: { url: 'url' } },
  ],
};

/** Only the legacy side (in MariaDB) is opened; the service side mirrors it so the mapping is valid. */
const MAPPING = {
  origins: { legacy: 'legacy', service: 'blog' },
  aggregates: {
    post: { owner: 'service', legacy: { ...SIDE, insertOnly: ['author'], lockVersion: 'lock_version' }, service: SIDE },
  },
};

/** A document in the shapes the store reads (node-postgres'), DATETIME values in +02:00. */
function post(id: number, overrides: Document = {}): Document {
  return {
    id,
    title: `Post ${id} ✓`,
    active: id % 2,
    flag: id % 2 === 0,
    price: `${id}.5000`,
    big: '18446744073709551615',
    created: '2024-03-01T12:00:00.123456+02:00',
    changed: '2024-06-01T08:30:00.250+02:00',
    attrs: { a: [1, 'x'], b: null, id },
    released: '2024-02-29',
    raw: Buffer.from([0, 1, 254, 255]),
    author: 7,
    rev: 1,
    views: id * 10,
    tags: [{ tag: 'a' }, { tag: `t${id}` }],
    links: [{ url: `https://example.com/${id}` }],
    ...overrides,
  };
}

async function openStore(database: MySqlDatabase): Promise<MySqlSideStore> {
  const mapping = parseMapping(MAPPING).aggregates.get('post')!;
  const issues: MappingIssue[] = [];
  const store = await MySqlSideStore.open(database, mapping.legacy, 'aggregates.post.legacy', issues);
  expect(issues).toEqual([]);
  return store!;
}

describe('writing documents into a MySQL/MariaDB side (real MariaDB)', () => {
  let db: TestMysqlDatabase;
  let database: MySqlDatabase;
  let store: MySqlSideStore;

  beforeAll(async () => {
    db = await createTestMysqlDatabase('sfg_mysql_writes');
    await db.pool.query(SCHEMA);
    const url = new URL(db.url);
    url.searchParams.set('timezone', '+02:00');
    database = new MySqlDatabase(url.toString());
    store = await openStore(database);
  });
  afterAll(async () => {
    await database?.end();
    await db?.drop();
  });

  const rows = async (sql: string) => (await db.pool.query(sql))[0] as Array<Record<string, unknown>>;

  it('inserts absent documents and reads them back equal to what was written, every type encoded back', async () => {
    const documents = [post(1), post(2), post(3, { price: null, created: null, attrs: null, released: null, raw: null, flag: null, tags: [], links: [] })];
    expect(await store.writeMany(database, documents, 'blog', new Set(['1', '2', '3']))).toBe(true);
    const read = await store.readMany(database, ['1', '2', '3']);
    expect(read.get('1')).toEqual(post(1));
    expect(read.get('2')).toEqual(post(2));
    expect(read.get('3')).toEqual(post(3, { price: null, created: null, attrs: null, released: null, raw: null, flag: null, tags: [], links: [] }));
    // The stored values as the legacy sees them: wall time in +02:00, the origin column, the lock version's default.
    const [row] = await rows(`select cast(created as char) as created, written_by, lock_version, cast(price as char) as price from posts where id = 1`);
    expect(row).toEqual({ created: '2024-03-01 12:00:00.123456', written_by: 'blog', lock_version: 0, price: '1.5000' });
  });

  it('encodes datetimes given in another offset or as a Date into the URL zone', async () => {
    const document = post(4, { created: '2024-03-01T10:00:00.5Z', changed: new Date('2024-06-01T06:30:00.250Z') });
    expect(await store.writeMany(database, [document], 'blog', new Set(['4']))).toBe(true);
    expect((await store.readMany(database, ['4'])).get('4')).toMatchObject({ created: '2024-03-01T12:00:00.500000+02:00', changed: '2024-06-01T08:30:00.250+02:00' });
  });

  it('upserts present documents: insert-only columns left alone, the lock version incremented, joined tables rewritten', async () => {
    const changed = post(1, { title: 'Edited', author: 99, rev: 2, views: 11, tags: [{ tag: 'z' }], links: [{ url: 'https://example.com/new' }, { url: 'https://example.com/2nd' }] });
    expect(await store.writeMany(database, [changed, post(2, { rev: 2 })], 'blog')).toBe(true);
    expect((await store.readMany(database, ['1'])).get('1')).toEqual({ ...changed, author: 7 });
    expect(await rows('select id, lock_version from posts where id in (1, 2) order by id')).toEqual([{ id: 1, lock_version: 1 }, { id: 2, lock_version: 1 }]);
    // Positioned rows past the new length are gone; the unpositioned table holds exactly the new rows.
    expect(await rows('select pos, tag from post_tags where post_id = 1 order by pos')).toEqual([{ pos: 0, tag: 'z' }]);
    expect(await rows('select url from post_links where post_id = 1 order by url')).toEqual([{ url: 'https://example.com/2nd' }, { url: 'https://example.com/new' }]);

    // A present key not yet in the table is inserted by the upsert too.
    expect(await store.writeMany(database, [post(5)], 'blog')).toBe(true);
    expect((await store.readMany(database, ['5'])).get('5')).toEqual(post(5));
    expect(await rows('select lock_version from posts where id = 5')).toEqual([{ lock_version: 0 }]);
  });

  it('leaves the joined tables named in keep alone', async () => {
    const before = (await store.readMany(database, ['2'])).get('2')!;
    const next = post(2, { title: 'Kept joins', rev: 3, views: 999, tags: [{ tag: 'ignored' }], links: [] });
    expect(await store.writeMany(database, [next], 'blog', new Set(), new Map([['2', new Set([0, 1, 2])]]))).toBe(true);
    const after = (await store.readMany(database, ['2'])).get('2')!;
    expect(after).toEqual({ ...before, title: 'Kept joins', rev: 3 });
  });

  it('answers false on a duplicate key for an absent insert and writes nothing', async () => {
    const before = await store.readMany(database, ['1', '6']);
    // 6 is new, 1 exists: the one multi-row insert is refused as a whole, and the transaction rolled back.
    expect(await store.writeMany(database, [post(6), post(1, { title: 'not written' })], 'blog', new Set(['6', '1']))).toBe(false);
    expect(await store.readMany(database, ['1', '6'])).toEqual(before);
    expect(await rows('select count(*) as n from post_tags where post_id = 6')).toEqual([{ n: 0 }]);

    // In the caller's transaction: false, and the caller rolls back what ran before.
    await expect(
      database.transaction(async (session) => {
        expect(await store.writeMany(session, [post(7)], 'blog', new Set(['7']))).toBe(true);
        if (!(await store.writeMany(session, [post(1)], 'blog', new Set(['1'])))) throw new Error('conflict');
      }),
    ).rejects.toThrow('conflict');
    expect((await store.readMany(database, ['7'])).size).toBe(0);
  });

  it('deletes documents, joined rows first', async () => {
    await store.deleteMany(database, ['3', '5']);
    expect([...(await store.readMany(database, ['3', '5', '1'])).keys()]).toEqual(['1']);
    expect(await rows('select count(*) as n from post_tags where post_id in (3, 5)')).toEqual([{ n: 0 }]);
    expect(await rows('select count(*) as n from post_meta where post_id in (3, 5)')).toEqual([{ n: 0 }]);
  });

  it('leads every statement with the origin marker when asked', async () => {
    const sent: string[] = [];
    await database.transaction(async (session) => {
      const spy: MySqlSession = {
        query: (sql, params) => {
          sent.push(sql);
          return session.query(sql, params);
        },
      };
      expect(await store.writeMany(spy, [post(8)], 'blog', new Set(['8']), new Map(), { markOrigin: 'blog' })).toBe(true);
      expect(await store.writeMany(spy, [post(8, { rev: 2, tags: [] })], 'blog', new Set(), new Map(), { markOrigin: 'blog' })).toBe(true);
      await store.deleteMany(spy, ['8'], { markOrigin: 'blog' });
    });
    expect(sent.length).toBeGreaterThan(8);
    for (const sql of sent) expect(sql.startsWith('/* strangler.origin=blog */ ')).toBe(true);
    // post_tags has a unique (key, position): written by position (rows past the new length trimmed), not replaced.
    expect(sent.some((sql) => sql.includes('delete from `post_tags` where `post_id` = ? and `pos` >= ?'))).toBe(true);
    expect(sent.some((sql) => sql.includes('delete from `post_links` where `post_id` in (?)'))).toBe(true);
  });
});

describe('a marked write-back to a MySQL side, captured from the binlog (real MariaDB and Kafka)', () => {
  let db: TestMysqlDatabase;
  let database: MySqlDatabase;

  beforeAll(async () => {
    db = await createTestMysqlDatabase('sfg_mysql_writes_relay');
    await db.pool.query(SCHEMA);
    database = new MySqlDatabase(db.url);
  });
  afterAll(async () => {
    await database?.end();
    await db?.drop();
  });

  it('tags every change of the write-back with its origin, and the legacy\'s own write with the default', async () => {
    const store = await openStore(database);
    const name = uniqueName('mysw').slice(0, 40);
    const options = parseRelayOptions({
      name,
      mode: 'tables',
      connectionString: db.url,
      leadership: { retryIntervalMs: 200 },
      capture: { tables: ['posts', 'post_meta', 'post_tags'], topicPrefix: name.replace(/_/g, '-') },
      kafka: { brokers: testEnv().kafkaBrokers },
    });
    const topic = (table: string) => `${options.capture!.topicPrefix}.${db.name}.${table}`;
    await createTopics([topic('posts'), topic('post_meta'), topic('post_tags')], 1);
    const { relay } = await startRelay(options);
    try {
      expect(await store.writeMany(database, [post(1, { tags: [{ tag: 'a' }] })], 'blog', new Set(['1']), new Map(), { markOrigin: 'blog' })).toBe(true);
      expect(await store.writeMany(database, [post(1, { rev: 2, tags: [] })], 'blog', new Set(), new Map(), { markOrigin: 'blog' })).toBe(true);
      await db.pool.query("update posts set title = 'by the legacy' where id = 1");
      const records = await collectRecords({ topics: [topic('posts'), topic('post_meta'), topic('post_tags')], count: 7, timeoutMs: 30_000, settleMs: 1_000 });
      const summary = records.map((record) => `${record.topic.split('.').pop()} ${record.headers.type ?? 'tombstone'} ${record.headers.origin}`);
      expect(summary.filter((line) => line.startsWith('posts '))).toEqual(['posts c blog', 'posts u blog', 'posts u legacy']);
      expect(summary.filter((line) => line.startsWith('post_meta '))).toEqual(['post_meta c blog']);
      expect(summary.filter((line) => line.startsWith('post_tags '))).toEqual(['post_tags c blog', 'post_tags d blog', 'post_tags tombstone blog']);
    } finally {
      await relay.stop();
    }
  });
});
