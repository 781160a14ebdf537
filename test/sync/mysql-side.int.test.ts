import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { backfill, MappingInvalidError, MySqlDatabase, openAggregates, parseMapping, verify, type Mapping, type MigrationStores } from '../../sync';
import { createTestDatabase, createTestMysqlDatabase, type TestDatabase, type TestMysqlDatabase } from '../helpers';
import { runCli } from '../helpers/cli';

/**
 * A legacy side in MariaDB (odd names, a database-qualified table, the types a PHP or Rails monolith uses) backfilled
 * into a differently shaped Postgres service and verified across the two engines.
 */
describe('a legacy side in MySQL/MariaDB', () => {
  let legacy: TestMysqlDatabase;
  let service: TestDatabase;
  let dir: string;
  let mappingFile: string;
  let mapping: Mapping;
  /** The legacy URL as the CLI takes it: DATETIME values written in +02:00. */
  let legacyUrl: string;

  const TEXT_KEYS = ['apple', 'Banana', 'cherry', 'Zebra', 'éclair', '10', '9', 'a b', 'a', '日本', '😀x', 'b-2', 'B_1'];

  const mappingDocument = (database: string) => ({
    origins: { legacy: 'legacy', service: 'catalog' },
    aggregates: {
      article: {
        owner: 'legacy',
        legacy: {
          table: 'Shop_Articles',
          key: 'no',
          version: 'rev',
          fields: { no: 'article_no', title: 'Title', active: 'is_active', price: 'price', created: 'created', changed: 'changed', attrs: 'attrs', note: 'note', big: 'big_count', rev: 'row_version', code: 'key', released: 'released' },
          joined: [
            { table: 'article_stock', key: 'article_no', fields: { stock: 'on_hand' } },
            { table: `${database}.article_tags`, key: 'article_no', as: 'tags', position: 'pos', fields: { tag: 'tag' } },
          ],
        },
        service: {
          table: 'articles',
          key: 'id',
          version: 'revision',
          origin: 'written_by',
          fields: { id: 'id', name: 'name', active: 'active', price: 'price', createdAt: 'created_at', changedAt: 'changed_at', attributes: 'attributes', note: 'note', big: 'big', revision: 'revision', code: 'code', releasedOn: 'released_on' },
          joined: [
            { table: 'stock', key: 'article_id', fields: { stock: 'quantity' } },
            { table: 'article_labels', key: 'article_id', as: 'tags', position: 'position', fields: { tag: 'label' } },
          ],
        },
        toService: { id: 'no', name: 'title', createdAt: 'created', changedAt: 'changed', attributes: 'attrs', revision: 'rev', releasedOn: 'released' },
        toLegacy: { no: 'id', title: 'name', created: 'createdAt', changed: 'changedAt', attrs: 'attributes', rev: 'revision', released: 'releasedOn' },
      },
      sku: {
        owner: 'legacy',
        legacy: { table: 'sku_codes', key: 'code', version: 'rev', fields: { code: 'code', label: 'label', rev: 'rev' } },
        service: { table: 'skus', key: 'sku', version: 'revision', origin: 'written_by', fields: { sku: 'sku', label: 'label', revision: 'revision' } },
        toService: { sku: 'code', revision: 'rev' },
        toLegacy: { code: 'sku', rev: 'revision' },
      },
    },
  });

  const open = async (): Promise<{ database: MySqlDatabase; stores: MigrationStores[] }> => {
    const database = new MySqlDatabase(legacyUrl);
    try {
      return { database, stores: await openAggregates(mapping, [...mapping.aggregates.values()], { legacy: database, service: service.pool }) };
    } catch (error) {
      await database.end();
      throw error;
    }
  };

  const verifyAll = async () => {
    const { database, stores } = await open();
    try {
      const reports = [];
      for (const entry of stores) reports.push(await verify(entry, { legacy: database, service: service.pool }, { chunkSize: 4, maxExamples: 5 }));
      return reports;
    } finally {
      await database.end();
    }
  };

  beforeAll(async () => {
    [legacy, service] = await Promise.all([createTestMysqlDatabase('sfg_mysql_side'), createTestDatabase('sfg_mysql_side_service')]);
    const url = new URL(legacy.url);
    url.searchParams.set('timezone', '+02:00');
    legacyUrl = url.toString();
    await legacy.pool.query(`
      create table Shop_Articles (
        article_no int unsigned not null primary key,
        Title varchar(200) character set utf8mb4 collate utf8mb4_unicode_ci not null,
        is_active tinyint(1) not null,
        price decimal(12,4) null,
        created datetime(6) null,
        changed timestamp(3) null,
        attrs json null,
        note text character set utf8mb4 collate utf8mb4_general_ci null,
        big_count bigint unsigned null,
        row_version int not null,
        \`key\` char(8) character set latin1 null,
        released date null
      ) engine=InnoDB default charset=utf8mb4;
      create table article_stock (article_no int unsigned not null primary key, on_hand int not null);
      create table article_tags (article_no int unsigned not null, pos int not null, tag varchar(40) not null, unique key (article_no, pos));
      create table sku_codes (code varchar(32) character set utf8mb4 collate utf8mb4_general_ci not null primary key, label varchar(64) not null, rev int not null);
      set time_zone = '+00:00';
    `);
    for (let n = 1; n <= 23; n += 1) {
      await legacy.pool.query(
        `set time_zone = '+00:00';
         insert into Shop_Articles values (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?);
         insert into article_stock values (?, ?);`,
        [
          n,
          n === 3 ? 'Crème brûlée 🍮' : `Article ${n}`,
          n % 2,
          n === 4 ? null : `${n}.${String(n).padStart(2, '0')}25`,
          n === 5 ? null : `2024-03-${String(n).padStart(2, '0')} 12:00:00.123456`,
          n === 6 ? null : `2024-06-01 0${n % 10}:30:00.250`,
          n === 7 ? null : JSON.stringify({ size: n, tags: ['x', n], nested: { b: 1, a: n % 3 === 0 } }),
          n % 4 === 0 ? null : `note ${n}`,
          n === 8 ? '18446744073709551615' : n * 1_000_000_007,
          n === 9 ? null : `K${n}`,
          n === 10 ? null : `2023-12-${String(n + 1).padStart(2, '0')}`,
          n,
          n * 2,
        ],
      );
      for (let position = 0; position < n % 3; position += 1) await legacy.pool.query('insert into article_tags values (?, ?, ?)', [n, position, `tag-${n}-${position}`]);
    }
    for (const [index, code] of TEXT_KEYS.entries()) await legacy.pool.query('insert into sku_codes values (?, ?, 1)', [code, `label ${index}`]);

    await service.pool.query(`
      create table articles (
        id bigint primary key, name text not null, active boolean not null, price numeric(12,4), created_at timestamptz, changed_at timestamptz,
        attributes jsonb, note text, big numeric(20,0), revision integer not null, code text, released_on date, written_by text
      );
      create table stock (article_id bigint primary key, quantity integer not null);
      create table article_labels (article_id bigint not null, position integer not null, label text not null, unique (article_id, position));
      create table skus (sku text primary key, label text not null, revision integer not null, written_by text);
    `);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-mysql-side-'));
    mappingFile = path.join(dir, 'mapping.yaml');
    fs.writeFileSync(mappingFile, YAML.stringify(mappingDocument(legacy.name)));
    mapping = parseMapping(mappingDocument(legacy.name), { source: mappingFile });
  });
  afterAll(async () => {
    await Promise.all([legacy?.drop(), service?.drop()]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('backfills through `strangler backfill --legacy mysql://…` into the Postgres service, types carried by meaning', async () => {
    const result = await runCli(['backfill', 'all', '--mapping', mappingFile, '--legacy', legacyUrl, '--service', service.url, '--chunk-size', '5']);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out).toContain('23/23 copied 23 skipped 0');
    expect(result.out).toContain(`${TEXT_KEYS.length}/${TEXT_KEYS.length} copied ${TEXT_KEYS.length} skipped 0`);

    const rows = (await service.pool.query('select * from articles where id in (3, 4, 5, 6, 7, 8, 9) order by id')).rows;
    expect(rows[0]).toMatchObject({ id: '3', name: 'Crème brûlée 🍮', active: true, price: '3.0325', note: 'note 3', big: '3000000021', code: 'K3', revision: 1, written_by: 'legacy' });
    // DATETIME read in the URL's zone (+02:00); TIMESTAMP is an instant whatever the session's zone.
    expect((rows[0].created_at as Date).toISOString()).toBe('2024-03-03T10:00:00.123Z');
    expect((rows[0].changed_at as Date).toISOString()).toBe('2024-06-01T03:30:00.250Z');
    expect(rows[0].attributes).toEqual({ size: 3, tags: ['x', 3], nested: { a: true, b: 1 } });
    expect(rows[1]).toMatchObject({ id: '4', active: false, price: null, note: null });
    expect(rows[2].created_at).toBeNull();
    expect(rows[3].changed_at).toBeNull();
    expect(rows[4].attributes).toBeNull();
    expect(rows[5].big).toBe('18446744073709551615');
    expect(rows[6].code).toBeNull();
    expect((await service.pool.query(`select released_on::text as d from articles where id in (3, 10) order by id`)).rows).toEqual([{ d: '2023-12-04' }, { d: null }]);
    const micro = (await service.pool.query(`select to_char(created_at at time zone 'UTC', 'HH24:MI:SS.US') as t from articles where id = 1`)).rows[0].t;
    expect(micro).toBe('10:00:00.123456');
    expect((await service.pool.query('select quantity from stock where article_id = 11')).rows).toEqual([{ quantity: 22 }]);
    expect((await service.pool.query('select position, label from article_labels where article_id = 11 order by position')).rows).toEqual([
      { position: 0, label: 'tag-11-0' },
      { position: 1, label: 'tag-11-1' },
    ]);
    expect((await service.pool.query('select sku from skus order by sku collate "C"')).rows.map((row) => row.sku)).toEqual([...TEXT_KEYS].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  it('verifies 0 drift across the two engines, with `strangler verify` and paged in key order on both sides', async () => {
    const cli = await runCli(['verify', 'all', '--mapping', mappingFile, '--legacy', legacyUrl, '--service', service.url, '--chunk-size', '3']);
    expect(cli.out).toContain('article (legacy 23 rows');
    expect(cli.out).toContain('no drift');
    expect(cli.code).toBe(0);
    for (const report of await verifyAll()) {
      expect(report.driftRows).toBe(0);
      expect(report.sourceRows).toBe(report.targetRows);
    }
  });

  it('shows a change on either side as drift with its key', async () => {
    // Legacy: a JSON value, a boolean and a text key's row; service: a timestamp and a joined many-row table.
    await legacy.pool.query(`update Shop_Articles set attrs = json_object('size', 99) where article_no = 10`);
    await legacy.pool.query(`update Shop_Articles set is_active = 1 - is_active where article_no = 12`);
    await legacy.pool.query(`update sku_codes set label = 'changed' where code = 'éclair'`);
    await service.pool.query(`update articles set changed_at = changed_at + interval '1 second' where id = 14`);
    await service.pool.query(`update article_labels set label = 'other' where article_id = 17 and position = 1`);
    await service.pool.query(`update articles set revision = 2 where id = 20`);
    await service.pool.query(`delete from skus where sku = '日本'`);
    const [articles, skus] = await verifyAll();
    expect(articles!.counts).toEqual({ missingInTarget: 0, missingInSource: 0, stale: 1, different: 4 });
    expect(articles!.examples.map(({ kind, id }) => `${kind} ${id}`).sort()).toEqual(['different 10', 'different 12', 'different 14', 'different 17', 'stale 20']);
    expect(skus!.counts).toEqual({ missingInTarget: 1, missingInSource: 0, stale: 0, different: 1 });
    expect(skus!.examples.map(({ kind, id }) => `${kind} ${id}`).sort()).toEqual(['different éclair', 'missingInTarget 日本']);
    const cli = await runCli(['verify', 'sku', '--mapping', mappingFile, '--legacy', legacyUrl, '--service', service.url]);
    expect(cli.code).toBe(1);
    expect(cli.out).toContain('missingInTarget 日本');
  });

  it('reports every schema mismatch of a MySQL side at once, each with its path', async () => {
    await legacy.pool.query('create table keyless (code varchar(32) not null, label text, rev varchar(8))');
    const broken = mappingDocument(legacy.name);
    broken.aggregates.article.legacy.fields.title = 'Headline';
    broken.aggregates.article.legacy.joined[0]!.table = 'article_stocks';
    broken.aggregates.sku.legacy.table = 'keyless';
    const database = new MySqlDatabase(legacyUrl);
    try {
      const parsed = parseMapping(broken);
      const error = await openAggregates(parsed, [...parsed.aggregates.values()], { legacy: database, service: service.pool }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MappingInvalidError);
      expect((error as MappingInvalidError).code).toBe('SFG_SYNC_SCHEMA_MISMATCH');
      expect((error as MappingInvalidError).issues).toEqual([
        { path: 'aggregates.article.legacy.fields.title', message: expect.stringContaining('column Shop_Articles.Headline does not exist') },
        { path: 'aggregates.article.legacy.joined.0.table', message: 'table article_stocks does not exist' },
        { path: 'aggregates.sku.legacy.key', message: 'keyless.code needs a primary key or unique index (rows are upserted by it)' },
        { path: 'aggregates.sku.legacy.version', message: 'keyless.rev is varchar(8); the version must be an integer column' },
      ]);
    } finally {
      await database.end();
    }
    const cli = await runCli(['verify', 'all', '--mapping', mappingFile, '--legacy', legacyUrl.replace(legacy.name, `${legacy.name}_absent`), '--service', service.url]).catch((caught: unknown) => caught);
    expect(String((cli as Error).message ?? JSON.stringify(cli))).toContain('cannot reach the legacy database');
  });
  it('verifies a captured MySQL side by content and backfills it through the captured sync (0 drift after); a MySQL service and a named zone are refused', async () => {
    const document = mappingDocument(legacy.name);
    const sku = document.aggregates.sku as unknown as Record<string, unknown>;
    sku.legacy = { table: 'sku_codes', key: 'code', captured: true, fields: { code: 'code', label: 'label' } };
    sku.toService = { sku: 'code' };
    sku.toLegacy = { code: 'sku' };
    const captured = parseMapping({ ...document, capture: { topicPrefix: 'shop' } });
    const database = new MySqlDatabase(legacyUrl);
    try {
      const [stores] = await openAggregates(captured, [captured.aggregates.get('sku')!], { legacy: database, service: service.pool });
      // The previous test left one label changed in legacy and one row deleted in the service.
      const report = await verify(stores!, { legacy: database, service: service.pool }, { chunkSize: 5, maxExamples: 5 });
      expect(report.counts).toEqual({ missingInTarget: 1, missingInSource: 0, stale: 0, different: 1 });
      // Read through MySQL under the captured sync's state: the missing row and the changed label are copied.
      const copied = await backfill(stores!, { legacy: database, service: service.pool }, { chunkSize: 5, checkpointName: 'sku:captured', restart: false, legacyOrigin: 'legacy' });
      expect(copied).toMatchObject({ copied: 2 });
      expect((await verify(stores!, { legacy: database, service: service.pool }, { chunkSize: 5, maxExamples: 5 })).driftRows).toBe(0);
    } finally {
      await database.end();
    }
    const namedZone = await runCli(['verify', 'all', '--mapping', mappingFile, '--legacy', `${legacy.url}?timezone=Europe/Berlin`, '--service', service.url]);
    expect(namedZone.code).toBe(2);
    expect(namedZone.err).toContain("timezone must be an offset such as +02:00, or Z; got 'Europe/Berlin'");
    const toMySql = await runCli(['verify', 'all', '--mapping', mappingFile, '--legacy', legacyUrl, '--service', legacyUrl]);
    expect(toMySql.code).toBe(2);
    expect(toMySql.err).toContain('a service database in MySQL/MariaDB is not supported yet');
  });
});
