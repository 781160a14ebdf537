import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { createRelay, migrateOutbox, parseRelayOptions, type Relay } from '../../outbox';
import { legacyAccess, listConflicts, loadMappingFile, MySqlDatabase, openAggregates, SyncConsumer, verify, type Mapping, type MigrationStores } from '../../sync';
import { createTestDatabase, createTestMysqlDatabase, eventually, TestProcesses, testEnv, testKafka, uniqueName, type TestDatabase, type TestMysqlDatabase } from '../helpers';
import { runCli } from '../helpers/cli';
import { createTopics, quietLogger, testRelayOptions } from '../outbox/support';
import { groupConsumed, lostWrites, mappingYaml, postgresCaughtUp, readServiceDocument, SERVICE_SQL, syncOutcomes, TRANSLATORS, writeServiceDocument, type ServiceDocument } from './capture-fixture';

jest.setTimeout(300_000);

/** capture-fixture's legacy books in MySQL/MariaDB: a reserved-word column, a many-row joined table with its own key. */
const LEGACY_SQL = `
  create table books (
    id int primary key,
    title varchar(200) not null,
    \`order\` int not null default 0,
    blurb text,
    notes text not null default ''
  );
  create table copies (
    id int auto_increment primary key,
    book_id int not null,
    shelf varchar(64) not null,
    \`position\` int not null,
    key (book_id)
  );
  create table probe (id int auto_increment primary key);
`;
const SEEDED = 10;
type Direction = 'toService' | 'toLegacy';

/**
 * Two-way sync of an aggregate whose legacy side is captured from MariaDB's binlog: the binlog relay on legacy
 * (MariaDB), the outbox relay on the Postgres service, the sync into the service (read-through of MySQL) and into
 * legacy (write-backs marked with the service's origin), on the real MariaDB, Kafka and Postgres.
 */
describe('sync from a captured MySQL/MariaDB legacy', () => {
  let legacyDb: TestMysqlDatabase;
  let database: MySqlDatabase;
  let service: TestDatabase;
  let mapping: Mapping;
  let mappingFile: string;
  let stores: MigrationStores[];
  let dir: string;
  let topics: { books: string; copies: string; probe: string; outbox: string };
  let outboxSlot: string;
  const relays: Relay[] = [];
  const registries: Record<Direction, Registry> = { toService: new Registry(), toLegacy: new Registry() };
  const groups: Record<Direction, string> = { toService: uniqueName('msync-svc'), toLegacy: uniqueName('msync-leg') };
  const consumers: Partial<Record<Direction, SyncConsumer>> = {};
  let outboxTopicPrefix: string;

  const startSync = async (which: Direction[] = ['toService', 'toLegacy']) => {
    for (const name of which) {
      consumers[name] ??= new SyncConsumer(
        {
          mapping,
          into: name === 'toService' ? 'service' : 'legacy',
          pools: { legacy: database, service: service.pool },
          groupId: groups[name],
          topicPrefix: outboxTopicPrefix,
          kafka: { brokers: testEnv().kafkaBrokers, sessionTimeoutMs: 6_000 },
          retryBackoffMs: 50,
          migrate: true,
        },
        { logger: quietLogger, registry: registries[name] },
      );
      await consumers[name]!.start();
    }
  };
  const stopSync = async (which: Direction[] = ['toService', 'toLegacy']) => {
    for (const name of which) {
      await consumers[name]?.stop();
      delete consumers[name];
    }
  };
  const probeHigh = async () => {
    const admin = testKafka('strangler-test-admin').admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(topics.probe)).reduce((sum, partition) => sum + Number(partition.high), 0);
    } finally {
      await admin.disconnect();
    }
  };
  /** Every binlog change so far published (a probe row committed after them reached Kafka) and consumed by the sync into the service. */
  const toServiceCaughtUp = async (timeoutMs = 60_000) => {
    const before = await probeHigh();
    await legacyDb.pool.query('insert into probe () values ()');
    await eventually(async () => (await probeHigh()) > before, timeoutMs, 'the binlog relay published a probe committed after the writes');
    await groupConsumed([topics.books, topics.copies], groups.toService, timeoutMs);
  };
  const toLegacyCaughtUp = (timeoutMs = 60_000) => postgresCaughtUp(service, outboxSlot, [topics.outbox], groups.toLegacy, timeoutMs);
  const counts = async () => ({
    toServiceApplied: await syncOutcomes(registries.toService, 'applied'),
    toServiceSkipped: await syncOutcomes(registries.toService, 'skipped'),
    toServiceStale: await syncOutcomes(registries.toService, 'stale'),
    toLegacyApplied: await syncOutcomes(registries.toLegacy, 'applied'),
  });
  const title = (id: number) => readServiceDocument(service.pool, id);
  const serviceWrite = (id: number, change: (document: ServiceDocument | undefined) => Omit<ServiceDocument, 'revision'> | null) => writeServiceDocument(service, outboxTopicPrefix, id, change);
  const book = async (id: number) => {
    const [rows] = await legacyDb.pool.query('select id, title, `order`, blurb, notes from books where id = ?', [id]);
    const row = (rows as Array<Record<string, unknown>>)[0];
    if (!row) return undefined;
    const [copies] = await legacyDb.pool.query('select shelf from copies where book_id = ? order by `position`', [id]);
    return { ...row, copies: (copies as Array<{ shelf: string }>).map((copy) => copy.shelf) } as { id: number; title: string; order: number; blurb: string | null; notes: string; copies: string[] };
  };
  const legacyQuery = (sql: string, params: unknown[] = []) => legacyDb.pool.query(sql, params);
  const verifyBook = () => verify(stores[0]!, { legacy: database, service: service.pool }, { chunkSize: 7, maxExamples: 5 });
  const urls = () => ['--mapping', mappingFile, '--legacy', legacyDb.url, '--service', service.url];

  beforeAll(async () => {
    legacyDb = await createTestMysqlDatabase('sfg_mcap', 8);
    await legacyDb.pool.query(LEGACY_SQL);
    // Rows the binlog relay never sees: written before it starts (what backfill is for).
    const seeded = Array.from({ length: SEEDED }, (_, index) => index + 1);
    await legacyDb.pool.query('insert into books (id, title, `order`, blurb) values ?', [seeded.map((n) => [n, `Book ${n}`, n % 4, `about ${n}`])]);
    await legacyDb.pool.query('insert into copies (book_id, shelf, `position`) values ?', [seeded.flatMap((n) => [0, 1].map((p) => [n, `S${n}-${p}`, p]))]);
    service = await createTestDatabase('sfg_mcap_service', { max: 20 });
    await service.pool.query(SERVICE_SQL);
    await migrateOutbox(service.pool);

    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-mcap-'));
    const captureTopicPrefix = uniqueName('mcap').replace(/_/g, '-').slice(0, 40);
    fs.writeFileSync(path.join(dir, 'translators.js'), TRANSLATORS);
    mappingFile = path.join(dir, 'mapping.yaml');
    fs.writeFileSync(mappingFile, mappingYaml(captureTopicPrefix, 'service', { books: 'books', copies: 'copies' }));
    mapping = loadMappingFile(mappingFile);
    database = new MySqlDatabase(legacyDb.url, { connectionLimit: 10 });
    stores = await openAggregates(mapping, [...mapping.aggregates.values()], { legacy: database, service: service.pool });

    const outboxOptions = testRelayOptions(service);
    outboxTopicPrefix = outboxOptions.topicPrefix;
    outboxSlot = outboxOptions.slotName;
    const captureOptions = parseRelayOptions({
      name: uniqueName('mcap-relay').slice(0, 40),
      mode: 'tables',
      connectionString: legacyDb.url,
      leadership: { retryIntervalMs: 200 },
      capture: { tables: ['books', 'copies', 'probe'], topicPrefix: captureTopicPrefix, origin: 'legacy' },
      kafka: { brokers: testEnv().kafkaBrokers },
    });
    topics = {
      books: `${captureTopicPrefix}.${legacyDb.name}.books`,
      copies: `${captureTopicPrefix}.${legacyDb.name}.copies`,
      probe: `${captureTopicPrefix}.${legacyDb.name}.probe`,
      outbox: `${outboxTopicPrefix}book`,
    };
    await createTopics(Object.values(topics));
    for (const options of [captureOptions, outboxOptions]) {
      const relay = createRelay(options, { logger: quietLogger, registry: new Registry() });
      relays.push(relay);
      await relay.start();
    }
    await startSync();
  });
  afterAll(async () => {
    await stopSync();
    for (const relay of relays.reverse()) await relay.stop();
    await database?.end();
    await Promise.all([legacyDb?.drop(), service?.drop()]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('backfills the rows the binlog never saw with `strangler backfill --legacy mysql://…`, then `strangler verify` shows 0 drift', async () => {
    expect((await verifyBook()).counts.missingInTarget).toBe(SEEDED);
    const backfilled = await runCli(['backfill', 'book', '--chunk-size', '4', ...urls()]);
    expect(backfilled).toMatchObject({ code: 0 });
    expect(await title(3)).toEqual({ titleId: 3, name: 'Book 3', sortOrder: 3, summary: 'about 3', notes: '', revision: 1, shelves: [{ shelfCode: 'S3-0' }, { shelfCode: 'S3-1' }] });
    const verified = await runCli(['verify', 'book', ...urls()]);
    expect(verified.code).toBe(0);
    expect(verified.out).toContain('no drift');
  });

  it('brings legacy inserts, updates, a change only to the joined table and deletes to the service, one applied change each', async () => {
    const expectOneApplied = async (write: () => Promise<unknown>, reached: () => Promise<boolean>) => {
      const start = await counts();
      await write();
      await eventually(reached, 30_000, 'the legacy write reached the service');
      await toServiceCaughtUp();
      expect((await syncOutcomes(registries.toService, 'applied')) - start.toServiceApplied).toBe(1);
    };
    // One transaction across both tables: one document, never a torn one.
    await expectOneApplied(async () => {
      const connection = await legacyDb.pool.getConnection();
      try {
        await connection.query('begin');
        await connection.query("insert into books (id, title, `order`) values (100, 'New', 2)");
        await connection.query("insert into copies (book_id, shelf, `position`) values (100, 'N-1', 0)");
        await connection.query('commit');
      } finally {
        connection.release();
      }
    }, async () => (await title(100))?.shelves.length === 1);
    expect(await title(100)).toEqual({ titleId: 100, name: 'New', sortOrder: 2, summary: null, notes: '', revision: 1, shelves: [{ shelfCode: 'N-1' }] });
    await expectOneApplied(() => legacyQuery("update books set title = 'Renamed', `order` = 9 where id = 100"), async () => (await title(100))?.name === 'Renamed');
    expect(await title(100)).toMatchObject({ sortOrder: 9, revision: 2 });
    await expectOneApplied(() => legacyQuery("insert into copies (book_id, shelf, `position`) values (100, 'N-2', 1)"), async () => (await title(100))?.shelves.length === 2);
    expect((await title(100))!.shelves).toEqual([{ shelfCode: 'N-1' }, { shelfCode: 'N-2' }]);
    await expectOneApplied(() => legacyQuery("delete from copies where book_id = 100 and shelf = 'N-1'"), async () => (await title(100))?.shelves.length === 1);
    await expectOneApplied(async () => {
      await legacyQuery('delete from copies where book_id = 100');
      await legacyQuery('delete from books where id = 100');
    }, async () => (await title(100)) === undefined);
  });

  it('reads through legacy with locking reads: a writer still holding its rows is waited for, and its commit is what the read sees', async () => {
    const access = legacyAccess(database, stores);
    const connection = await legacyDb.pool.getConnection();
    try {
      await connection.query('begin');
      await connection.query("update books set title = 'Held' where id = 4");
      await connection.query("insert into copies (book_id, shelf, `position`) values (4, 'H-2', 2)");
      // The writer has not committed: as a commit the binlog already carries but InnoDB does not yet show.
      let answered: Map<string, Record<string, unknown>> | undefined;
      const reading = access.readSnapshot('book', ['4']).then((documents) => (answered = documents));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(answered).toBeUndefined();
      await connection.query('commit');
      await reading;
      expect(answered!.get('4')).toMatchObject({ title: 'Held', copies: [{ shelf: 'S4-0' }, { shelf: 'S4-1' }, { shelf: 'H-2' }] });
    } finally {
      connection.release();
    }
    await eventually(async () => (await title(4))?.shelves.length === 3, 30_000, 'the held write reached the service');
    expect((await title(4))!.name).toBe('Held');
  });

  it('never reads a document torn between two legacy commits: 40 transactions over both tables, read through all along', async () => {
    const access = legacyAccess(database, stores);
    let writing = true;
    const writer = (async () => {
      const connection = await legacyDb.pool.getConnection();
      try {
        for (let round = 0; round < 40; round += 1) {
          await connection.query('begin');
          // Half the time the joined table first: a read between the two statements would see half of the commit.
          const statements = ['update books set title = ? where id = 8', 'update copies set shelf = ? where book_id = 8'];
          for (const statement of round % 2 ? statements : statements.reverse()) await connection.query(statement, [`T${round}`]);
          await connection.query('commit');
        }
      } finally {
        writing = false;
        connection.release();
      }
    })();
    const seen = new Set<string>();
    const torn: string[] = [];
    try {
      while (writing) {
        let document: Record<string, unknown>;
        try {
          document = (await access.readSnapshot('book', ['8'])).get('8')!;
        } catch (error) {
          // The writers here take the two tables in both orders, so deadlocks are frequent: a read that kept losing
          // them is retriable, and the sync's consumer would simply deliver the change again. Never a torn read.
          if ((error as { code?: string; retriable?: boolean }).code === 'SFG_SYNC_LEGACY_LOCKED') continue;
          throw error;
        }
        const shelves = (document.copies as Array<{ shelf: string }>).map((copy) => copy.shelf);
        const whole = document.title === 'Book 8' ? shelves.join() === 'S8-0,S8-1' : shelves.length === 2 && shelves.every((shelf) => shelf === document.title);
        seen.add(String(document.title));
        if (!whole) torn.push(`${String(document.title)}: ${shelves.join()}`);
      }
    } finally {
      // Never leave the writers running into the next test.
      await writer.catch(() => undefined);
    }
    await writer;
    expect(torn).toEqual([]);
    expect(seen.size).toBeGreaterThan(2);
    await eventually(async () => (await title(8))?.name === 'T39', 30_000, 'the last commit reached the service');
    expect((await title(8))!.shelves).toEqual([{ shelfCode: 'T39' }, { shelfCode: 'T39' }]);
  });

  it('writes service changes into MySQL and never echoes them: one applied change on legacy, the binlog capture of the write-back skipped', async () => {
    const writeAndCount = async (id: number, change: Parameters<typeof serviceWrite>[1], reached: () => Promise<boolean>) => {
      const start = await counts();
      await serviceWrite(id, change);
      await eventually(reached, 30_000, 'the service write reached legacy');
      await toLegacyCaughtUp();
      // The write-back's own binlog records come back to the other direction, tagged with the service's origin: skipped.
      await eventually(async () => (await syncOutcomes(registries.toService, 'skipped')) > start.toServiceSkipped, 30_000, 'the echo skipped');
      await toServiceCaughtUp();
      const end = await counts();
      expect(end.toLegacyApplied - start.toLegacyApplied).toBe(1);
      expect(end.toServiceApplied - start.toServiceApplied).toBe(0);
      expect(end.toServiceStale - start.toServiceStale).toBe(0);
    };
    await writeAndCount(7, (current) => ({ ...current!, name: 'Service title', shelves: [{ shelfCode: 'X-1' }, { shelfCode: 'X-2' }, { shelfCode: 'X-3' }] }), async () => (await book(7))?.copies.length === 3);
    expect(await book(7)).toMatchObject({ title: 'Service title', order: 3, blurb: 'about 7', copies: ['X-1', 'X-2', 'X-3'] });
    await writeAndCount(200, () => ({ titleId: 200, name: 'Born in the service', sortOrder: 1, summary: null, notes: '', shelves: [{ shelfCode: 'B-1' }] }), async () => (await book(200)) !== undefined);
    expect(await book(200)).toMatchObject({ title: 'Born in the service', order: 1, copies: ['B-1'] });
    await writeAndCount(200, () => null, async () => (await book(200)) === undefined);
    expect((await title(7))!.revision).toBe(2);
    expect((await verifyBook()).driftRows).toBe(0);
  });

  it('records an update_origin_differs conflict with both images, keeps the owner, and `strangler conflicts apply --legacy mysql://…` re-applies the other side', async () => {
    await stopSync(['toLegacy']);
    await serviceWrite(9, (current) => ({ ...current!, name: 'Service wins' }));
    await legacyQuery("update books set title = 'Legacy loses' where id = 9");
    const conflict = await eventually(async () => (await listConflicts(service.pool, { aggregate: 'book' })).find((row) => row.key === '9'), 30_000, 'the conflict recorded');
    expect(conflict).toMatchObject({ kind: 'update_origin_differs', kept: 'service', legacyImage: expect.objectContaining({ title: 'Legacy loses' }), serviceImage: expect.objectContaining({ name: 'Service wins' }) });
    expect((await title(9))!.name).toBe('Service wins');
    await startSync(['toLegacy']);
    await eventually(async () => (await book(9))?.title === 'Service wins', 30_000, "the service's write applied to legacy");
    await toLegacyCaughtUp();
    const applied = await runCli(['conflicts', 'apply', conflict.id, '--keep', 'legacy', ...urls()]);
    expect(applied).toMatchObject({ code: 0 });
    expect(await book(9)).toMatchObject({ title: 'Legacy loses' });
    expect((await title(9))!.name).toBe('Legacy loses');
    // Its write into legacy was marked: the sync into the service skips it (no second change, no new conflict).
    await toServiceCaughtUp();
    expect((await title(9))!.name).toBe('Legacy loses');
    expect(await listConflicts(service.pool, { aggregate: 'book' })).toEqual([]);
    expect((await verifyBook()).driftRows).toBe(0);
  });

  it('writes of the same aggregates on both sides at once: every accepted write is on both sides or a recorded conflict, 0 drift', async () => {
    const KEYS = 5;
    const ROUNDS = 12;
    const accepted: Array<{ key: number; marker: string }> = [];
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    for (let round = 0; round < ROUNDS; round += 1) {
      const writes: Array<Promise<void>> = [];
      for (let key = 1; key <= KEYS; key += 1) {
        writes.push(
          (async () => {
            const marker = `L${key}.${round}`;
            await pause((key * 7 + round * 13) % 30);
            const [result] = await legacyDb.pool.query("update books set notes = concat(notes, ' ', ?) where id = ?", [marker, key]);
            if ((result as { affectedRows: number }).affectedRows === 1) accepted.push({ key, marker });
          })(),
          (async () => {
            const marker = `S${key}.${round}`;
            await pause((key * 11 + round * 5) % 30);
            if (await serviceWrite(key, (current) => ({ ...current!, notes: `${current!.notes} ${marker}` }))) accepted.push({ key, marker });
          })(),
        );
      }
      await Promise.all(writes);
      await pause(80);
    }
    expect(accepted).toHaveLength(KEYS * ROUNDS * 2);
    await eventually(
      async () => {
        await toLegacyCaughtUp(120_000);
        await toServiceCaughtUp(120_000);
        return (await verifyBook()).driftRows === 0;
      },
      180_000,
      'both sides quiet and in agreement',
      500,
    );
    const conflicts = await listConflicts(service.pool, { includeResolved: true, limit: 100_000 });
    const finalNotes = new Map<number, string>();
    for (let key = 1; key <= KEYS; key += 1) {
      const notes = (await book(key))!.notes;
      expect((await title(key))!.notes).toBe(notes);
      finalNotes.set(key, notes);
    }
    const { lost } = lostWrites(accepted, finalNotes, conflicts);
    console.log(JSON.stringify({ writes: accepted.length, conflicts: conflicts.length, lost: lost.length }));
    expect(lost).toEqual([]);
    expect(conflicts.every((conflict) => conflict.kept === 'service')).toBe(true);
  });

  it('runs as `strangler sync --into service` and `--into legacy` with a mysql:// legacy: both directions, no echo, 0 drift', async () => {
    await stopSync();
    const processes = new TestProcesses({
      cwd: () => process.cwd(),
      env: () => ({ ...process.env, KAFKA_BROKERS: testEnv().kafkaBrokers.join(','), OUTBOX_TOPIC_PREFIX: outboxTopicPrefix, LOG_LEVEL: 'warn' }),
    });
    try {
      // The same consumer groups: the processes go on from the offsets the in-process consumers committed.
      processes.stranglerDaemon('sync into service', ['sync', 'all', '--into', 'service', ...urls(), '--group-id', groups.toService, '--metrics-port', '0']);
      processes.stranglerDaemon('sync into legacy', ['sync', 'all', '--into', 'legacy', ...urls(), '--group-id', groups.toLegacy, '--metrics-port', '0']);
      await legacyQuery("update books set title = 'Through the CLI' where id = 2");
      await eventually(async () => (await title(2))?.name === 'Through the CLI', 60_000, `the legacy write reached the service (${processes.output('sync into service')})`);
      const revision = (await title(2))!.revision;
      await serviceWrite(3, (current) => ({ ...current!, name: 'Service, through the CLI', shelves: [{ shelfCode: 'C-1' }] }));
      await eventually(async () => (await book(3))?.title === 'Service, through the CLI', 60_000, `the service write reached legacy (${processes.output('sync into legacy')})`);
      expect((await book(3))!.copies).toEqual(['C-1']);
      await toLegacyCaughtUp();
      await toServiceCaughtUp();
      // The write-back came back as a captured change tagged with the service's origin: skipped, so book 2's revision did not move.
      expect((await title(2))!.revision).toBe(revision);
      expect((await verifyBook()).driftRows).toBe(0);
    } finally {
      await processes.stopAll();
    }
  });
});
