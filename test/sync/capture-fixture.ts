import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PoolClient } from 'pg';
import { Registry } from 'prom-client';
import { appendMany, createRelay, migrateOutbox, parseRelayOptions } from '../../outbox';
import { loadMappingFile, openAggregates, SyncConsumer, type AggregateStores, type ConflictRow, type Mapping } from '../../sync';
import { createTestDatabase, eventually, testEnv, testKafka, uniqueName, type TestDatabase } from '../helpers';
import { createTopics, quietLogger, testRelayOptions } from '../outbox/support';

/**
 * A legacy schema nobody here designed, captured from its tables: `lib.books` in a non-public schema with a
 * reserved-word column ("order"), a many-row joined table `lib.copies` (its own serial key; the aggregate's key is a
 * foreign key, logged in full so a delete names its book), and a text column that TOASTs. The service models the
 * same aggregate its own way (`titles` + `title_shelves`, a revision, a writer column) and publishes an outbox.
 */
export const LEGACY_SQL = `
  create schema lib;
  create table lib.books (
    id integer primary key,
    title text not null,
    "order" integer not null default 0,
    blurb text,
    notes text not null default ''
  );
  create table lib.copies (
    id serial primary key,
    book_id integer not null references lib.books (id) on delete cascade,
    shelf text not null,
    "position" integer not null
  );
  alter table lib.copies replica identity full;
`;

export const SERVICE_SQL = `
  create table titles (
    title_id integer primary key,
    name text not null,
    sort_order integer not null,
    summary text,
    notes text not null,
    revision integer not null,
    written_by text
  );
  create table title_shelves (
    title_id integer not null references titles (title_id) on delete cascade,
    line_no integer not null,
    shelf_code text not null,
    primary key (title_id, line_no)
  );
`;

/** The book's translators (`translators.js`): legacy's books + copies <-> the service's titles + shelves. */
export const TRANSLATORS = `
exports.toService = ({ id, title, order, blurb, notes, copies }) => ({
  titleId: id, name: title, sortOrder: order, summary: blurb, notes,
  shelves: (copies || []).map(({ shelf }) => ({ shelfCode: shelf })),
});
exports.toLegacy = ({ titleId, name, sortOrder, summary, notes, shelves }) => ({
  id: titleId, title: name, order: sortOrder, blurb: summary, notes,
  copies: (shelves || []).map(({ shelfCode }) => ({ shelf: shelfCode })),
});
`;

/** The book's mapping; `tables` names legacy's two tables (default: Postgres' lib.books and lib.copies). */
export function mappingYaml(topicPrefix: string, owner: 'legacy' | 'service', tables = { books: 'lib.books', copies: 'lib.copies' }): string {
  return `origins: { legacy: legacy, service: catalog }
capture: { topicPrefix: ${topicPrefix} }
aggregates:
  book:
    owner: ${owner}
    translators: ./translators.js
    legacy:
      captured: true
      table: ${tables.books}
      key: id
      fields: { id: id, title: title, order: order, blurb: blurb, notes: notes }
      joined:
        - { table: ${tables.copies}, key: book_id, as: copies, position: position, fields: { shelf: shelf } }
    service:
      table: titles
      key: titleId
      version: revision
      origin: written_by
      fields: { titleId: title_id, name: name, sortOrder: sort_order, summary: summary, notes: notes, revision: revision }
      joined:
        - { table: title_shelves, key: title_id, as: shelves, position: line_no, fields: { shelfCode: shelf_code } }
`;
}

export interface ServiceDocument {
  titleId: number;
  name: string;
  sortOrder: number;
  summary: string | null;
  notes: string;
  revision: number;
  shelves: Array<{ shelfCode: string }>;
}

/** The service's document of a title (its tables), as its own code reads it. */
export async function readServiceDocument(client: Pick<PoolClient, 'query'>, titleId: number): Promise<ServiceDocument | undefined> {
  const row = (await client.query('select title_id, name, sort_order, summary, notes, revision from titles where title_id = $1', [titleId])).rows[0];
  if (!row) return undefined;
  const shelves = (await client.query('select shelf_code from title_shelves where title_id = $1 order by line_no', [titleId])).rows.map((shelf) => ({ shelfCode: shelf.shelf_code as string }));
  return { titleId: row.title_id, name: row.name, sortOrder: row.sort_order, summary: row.summary, notes: row.notes, revision: row.revision, shelves };
}

/** A service write as the service's own code makes it (CaptureStack.serviceWrite): its tables and its outbox event in one transaction. */
export async function writeServiceDocument(
  service: TestDatabase,
  outboxTopicPrefix: string,
  titleId: number,
  change: (document: ServiceDocument | undefined) => Omit<ServiceDocument, 'revision'> | null,
): Promise<ServiceDocument | null> {
  const client = await service.pool.connect();
  try {
    await client.query('begin');
    await client.query('select 1 from titles where title_id = $1 for update', [titleId]);
    const current = await readServiceDocument(client, titleId);
    const next = change(current);
    if (next === null) {
      if (!current) throw new Error(`no title ${titleId} to delete`);
      await client.query('delete from titles where title_id = $1', [titleId]);
      const version = current.revision + 1;
      await appendMany(client, [{ aggregateType: 'book', aggregateId: String(titleId), type: 'TitleDeleted', payload: null, headers: { origin: 'catalog', version: String(version) } }], { topicPrefix: outboxTopicPrefix });
      await client.query('commit');
      return null;
    }
    const revision = (current?.revision ?? 0) + 1;
    await client.query(
      `insert into titles (title_id, name, sort_order, summary, notes, revision, written_by) values ($1, $2, $3, $4, $5, $6, 'catalog')
       on conflict (title_id) do update set name = excluded.name, sort_order = excluded.sort_order, summary = excluded.summary, notes = excluded.notes, revision = excluded.revision, written_by = 'catalog'`,
      [titleId, next.name, next.sortOrder, next.summary, next.notes, revision],
    );
    await client.query('delete from title_shelves where title_id = $1', [titleId]);
    for (const [index, shelf] of next.shelves.entries()) await client.query('insert into title_shelves (title_id, line_no, shelf_code) values ($1, $2, $3)', [titleId, index, shelf.shelfCode]);
    const document: ServiceDocument = { ...next, titleId, revision };
    await appendMany(client, [{ aggregateType: 'book', aggregateId: String(titleId), type: 'TitleChanged', payload: document, headers: { origin: 'catalog' } }], { topicPrefix: outboxTopicPrefix });
    await client.query('commit');
    return document;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Waits until `groupId`'s committed offsets reach the high watermarks `topics` have now (every record published so far consumed). */
export async function groupConsumed(topics: string[], groupId: string, timeoutMs: number): Promise<void> {
  const admin = testKafka('strangler-test-admin').admin();
  await admin.connect();
  try {
    const high = new Map<string, number>();
    for (const topic of topics) for (const partition of await admin.fetchTopicOffsets(topic)) high.set(`${topic}/${partition.partition}`, Number(partition.high));
    await eventually(
      async () => {
        const committed = await admin.fetchOffsets({ groupId, topics });
        return committed.every(({ topic, partitions }) => partitions.every(({ partition, offset }) => Math.max(0, Number(offset)) >= (high.get(`${topic}/${partition}`) ?? 0)));
      },
      timeoutMs,
      `${groupId} consumed every record of ${topics.join(', ')}`,
      100,
    );
  } finally {
    await admin.disconnect();
  }
}

/** strangler_sync_events_total of one sync consumer's registry, summed over aggregate types, for one outcome. */
export async function syncOutcomes(registry: Registry, outcome: string): Promise<number> {
  const metric = registry.getSingleMetric('strangler_sync_events_total');
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((value) => value.labels.outcome === outcome).reduce((sum, value) => sum + value.value, 0);
}

/** Every change committed so far on the `from` database is published (slot past it) and consumed by `groupId` (offsets at the high watermarks). */
export async function postgresCaughtUp(from: TestDatabase, slotName: string, topics: string[], groupId: string, timeoutMs: number): Promise<void> {
  const lsn = (await from.pool.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn;
  await eventually(
    async () => (await from.pool.query(`select pg_wal_lsn_diff(confirmed_flush_lsn, $1::pg_lsn) >= -1 as ok from pg_replication_slots where slot_name = $2`, [lsn, slotName])).rows[0]?.ok === true,
    timeoutMs,
    `the slot ${slotName} passed the last commit`,
  );
  await groupConsumed(topics, groupId, timeoutMs);
}

/**
 * The accepted writes (each a marker appended to `notes`) that are neither in the final notes of their aggregate
 * (which both sides must hold) nor in the losing image of a recorded conflict: the lost ones, which must be none.
 */
export function lostWrites(
  accepted: ReadonlyArray<{ key: number; marker: string }>,
  finalNotes: ReadonlyMap<number, string>,
  conflicts: ReadonlyArray<Pick<ConflictRow, 'key' | 'kept' | 'legacyImage' | 'serviceImage'>>,
): { lost: string[]; inFinal: Array<{ key: number; marker: string }> } {
  const lost: string[] = [];
  const inFinal: Array<{ key: number; marker: string }> = [];
  for (const [key, notes] of finalNotes) {
    const final = new Set(notes.split(' '));
    const recorded = new Set(
      conflicts
        .filter((conflict) => conflict.key === String(key))
        .flatMap((conflict) => String(((conflict.kept === 'service' ? conflict.legacyImage : conflict.serviceImage) as { notes?: unknown } | null)?.notes ?? '').split(' ')),
    );
    for (const write of accepted.filter((entry) => entry.key === key)) {
      if (final.has(write.marker)) inFinal.push(write);
      else if (!recorded.has(write.marker)) lost.push(write.marker);
    }
  }
  return { lost, inFinal };
}

export interface CaptureStack {
  legacy: TestDatabase;
  service: TestDatabase;
  mapping: Mapping;
  mappingFile: string;
  stores: AggregateStores[];
  captureTopicPrefix: string;
  outboxTopicPrefix: string;
  /** The registries of the two sync consumers: into the service (legacy's captured changes) and into legacy. */
  registries: { toService: Registry; toLegacy: Registry };
  startSync(which?: Array<'toService' | 'toLegacy'>): Promise<void>;
  stopSync(which?: Array<'toService' | 'toLegacy'>): Promise<void>;
  /**
   * Waits until every captured record of legacy's commits so far is consumed by the sync into the service: the
   * capture slot passed legacy's current WAL position (so all were acknowledged by Kafka), and the consumer group's
   * committed offsets reached the captured topics' high watermarks.
   */
  toServiceCaughtUp(timeoutMs?: number): Promise<void>;
  /** The same for the service's outbox events and the sync into legacy. */
  toLegacyCaughtUp(timeoutMs?: number): Promise<void>;
  /** strangler_sync_events_total of one consumer, summed over aggregate types, for one outcome. */
  outcomes(which: 'toService' | 'toLegacy', outcome: string): Promise<number>;
  /** A service write as the service's own code makes it: its tables and its outbox event in one transaction. */
  serviceWrite(titleId: number, change: (document: ServiceDocument | undefined) => Omit<ServiceDocument, 'revision'> | null): Promise<ServiceDocument | null>;
  serviceDocument(titleId: number): Promise<ServiceDocument | undefined>;
  legacyBook(id: number): Promise<{ id: number; title: string; order: number; blurb: string | null; notes: string; copies: string[] } | undefined>;
  close(): Promise<void>;
}

/** Two databases, the capture relay on legacy, the outbox relay on the service, and the two sync consumers (not started). */
export async function captureStack(prefix: string, options: { maxBatchEvents?: number; partitionsConsumedConcurrently?: number; seed?: string; owner?: 'legacy' | 'service' } = {}): Promise<CaptureStack> {
  const [legacy, service] = await Promise.all([createTestDatabase(`${prefix}_legacy`, { max: 20 }), createTestDatabase(`${prefix}_service`, { max: 20 })]);
  await legacy.pool.query(LEGACY_SQL);
  // Rows the capture never sees: they exist before the relay's slot does (what backfill is for).
  if (options.seed) await legacy.pool.query(options.seed);
  await service.pool.query(SERVICE_SQL);
  await migrateOutbox(service.pool);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-capture-'));
  const captureTopicPrefix = uniqueName('cap').replace(/_/g, '-').slice(0, 40);
  fs.writeFileSync(path.join(dir, 'translators.js'), TRANSLATORS);
  const mappingFile = path.join(dir, 'mapping.yaml');
  fs.writeFileSync(mappingFile, mappingYaml(captureTopicPrefix, options.owner ?? 'service'));
  const mapping = loadMappingFile(mappingFile);
  const stores = await openAggregates(mapping, [...mapping.aggregates.values()], { legacy: legacy.pool, service: service.pool });

  const outboxOptions = testRelayOptions(service);
  const outboxTopicPrefix = outboxOptions.topicPrefix;
  const captureOptions = parseRelayOptions({
    name: uniqueName('capture').slice(0, 40),
    mode: 'tables',
    connectionString: legacy.url,
    heartbeatIntervalMs: 500,
    leadership: { retryIntervalMs: 200 },
    capture: { tables: ['lib.books', 'lib.copies'], topicPrefix: captureTopicPrefix, origin: 'legacy' },
    kafka: { brokers: testEnv().kafkaBrokers },
  });
  await createTopics([`${outboxTopicPrefix}book`, `${captureTopicPrefix}.lib.books`, `${captureTopicPrefix}.lib.copies`]);
  const relays: Array<ReturnType<typeof createRelay>> = [createRelay(captureOptions, { logger: quietLogger, registry: new Registry() }), createRelay(outboxOptions, { logger: quietLogger, registry: new Registry() })];
  for (const relay of relays) await relay.start();

  const registries = { toService: new Registry(), toLegacy: new Registry() };
  const groups = { toService: uniqueName('sync-svc'), toLegacy: uniqueName('sync-leg') };
  const consumers: Partial<Record<'toService' | 'toLegacy', SyncConsumer>> = {};
  const both: Array<'toService' | 'toLegacy'> = ['toService', 'toLegacy'];
  const makeConsumer = (which: 'toService' | 'toLegacy') =>
    new SyncConsumer(
      {
        mapping,
        into: which === 'toService' ? 'service' : 'legacy',
        pools: { legacy: legacy.pool, service: service.pool },
        groupId: groups[which],
        topicPrefix: outboxTopicPrefix,
        kafka: { brokers: testEnv().kafkaBrokers, sessionTimeoutMs: 6_000 },
        retryBackoffMs: 50,
        maxBatchEvents: options.maxBatchEvents,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
        migrate: true,
      },
      { logger: quietLogger, registry: registries[which] },
    );

  const caughtUp = postgresCaughtUp;
  const capturedTopics = [`${captureTopicPrefix}.lib.books`, `${captureTopicPrefix}.lib.copies`];
  const toServiceCaughtUp = (timeoutMs = 30_000) => caughtUp(legacy, captureOptions.slotName, capturedTopics, groups.toService, timeoutMs);
  const toLegacyCaughtUp = (timeoutMs = 30_000) => caughtUp(service, outboxOptions.slotName, [`${outboxTopicPrefix}book`], groups.toLegacy, timeoutMs);
  const stopSync = async (which = both) => {
    for (const name of which) {
      await consumers[name]?.stop();
      delete consumers[name];
    }
  };
  return {
    legacy,
    service,
    mapping,
    mappingFile,
    stores,
    captureTopicPrefix,
    outboxTopicPrefix,
    registries,
    async startSync(which = both) {
      for (const name of which) {
        consumers[name] ??= makeConsumer(name);
        await consumers[name]!.start();
      }
    },
    stopSync,
    toServiceCaughtUp,
    toLegacyCaughtUp,
    outcomes: (which, outcome) => syncOutcomes(registries[which], outcome),
    serviceWrite: (titleId, change) => writeServiceDocument(service, outboxTopicPrefix, titleId, change),
    serviceDocument: (titleId) => readServiceDocument(service.pool, titleId),
    async legacyBook(id) {
      const row = (await legacy.pool.query('select id, title, "order", blurb, notes from lib.books where id = $1', [id])).rows[0];
      if (!row) return undefined;
      const copies = (await legacy.pool.query('select shelf from lib.copies where book_id = $1 order by "position"', [id])).rows.map((copy) => copy.shelf as string);
      return { ...row, copies };
    },
    async close() {
      await stopSync();
      for (const relay of relays.reverse()) await relay.stop();
      await Promise.all([legacy.drop(), service.drop()]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
