import { Registry } from 'prom-client';
import { createRelay, createTopicsWithLeaders, SlotMissingError, type PublishRecord, type Publisher } from '../../outbox';
import { collectRecords, eventually, testKafka, type TestDatabase } from '../helpers';
import { createOutboxDatabase, createTopics, quietLogger, startRelay, testRelayOptions } from './support';

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await registry.getSingleMetric(name)!.get();
  return metric.values
    .filter((value) => Object.entries(labels).every(([label, expected]) => value.labels[label] === expected))
    .reduce((sum, value) => sum + value.value, 0);
}

/** Inserts a row directly, as a writer in another language would; it may break the writer API's rules. */
async function insertRaw(db: TestDatabase, aggregateType: string, aggregateId: string, payload: unknown): Promise<string> {
  const { rows } = await db.pool.query(
    `insert into outbox (id, aggregatetype, aggregateid, type, payload) values (gen_random_uuid(), $1, $2, 'Raw', $3) returning id`,
    [aggregateType, aggregateId, JSON.stringify(payload)],
  );
  return rows[0].id;
}

/** Holds every send until released, so tests can look at the relay while Kafka "is slow". */
class GatedPublisher implements Publisher {
  sent = 0;
  private gate: Promise<void>;
  release!: () => void;
  constructor() {
    this.gate = new Promise((resolve) => (this.release = resolve));
  }
  async connect() {}
  async disconnect() {}
  async send(records: PublishRecord[]) {
    await this.gate;
    this.sent += records.length;
  }
}

/** Fails at the deadline with the probe's source, which says what was awaited. */
async function until(probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  await eventually(probe, timeoutMs, `${probe.toString().replace(/\s+/g, ' ').slice(0, 200)}`, 50);
}

describe.each(['cdc', 'polling'] as const)('%s relay backlog metrics (real Postgres)', (mode) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createOutboxDatabase(`sfg_outbox_backlog_${mode}`);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('reports backlog and lag while Kafka holds the events, and 0 once acknowledged', async () => {
    const options = testRelayOptions(db, { mode, polling: { intervalMs: 100, batchSize: 10 }, heartbeatIntervalMs: 100 });
    const publisher = new GatedPublisher();
    const registry = new Registry();
    const relay = createRelay(options, { logger: quietLogger, registry, publisher });
    await relay.start();
    try {
      const client = await db.pool.connect();
      try {
        await client.query('begin');
        for (let n = 0; n < 25; n += 1) await client.query(`insert into outbox (id, aggregatetype, aggregateid, type, payload) values (gen_random_uuid(), 'B', 'b', 'E', '{}')`);
        await client.query('commit');
      } finally {
        client.release();
      }
      // CDC has read the whole transaction; polling has read one batch of 10 and counts the unpublished rows.
      await until(async () => (await metricValue(registry, 'strangler_outbox_backlog_events')) === 25);
      // Held by Kafka, the oldest event ages.
      await until(async () => (await metricValue(registry, 'strangler_outbox_lag_seconds')) > 0.1);
      publisher.release();
      await until(async () => (await metricValue(registry, 'strangler_outbox_published_total')) === 25);
      await until(async () => (await metricValue(registry, 'strangler_outbox_backlog_events')) === 0);
      expect(await metricValue(registry, 'strangler_outbox_lag_seconds')).toBe(0);
      expect(publisher.sent).toBe(25);
    } finally {
      publisher.release();
      await relay.stop();
    }
  });
});

describe('CDC relay backpressure (real Postgres)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_outbox_pressure');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('pauses the replication stream while too many events wait for Kafka, then resumes and delivers all', async () => {
    const options = testRelayOptions(db, { batch: { maxEvents: 100, maxPendingEvents: 50 } });
    const publisher = new GatedPublisher();
    const registry = new Registry();
    const relay = createRelay(options, { logger: quietLogger, registry, publisher });
    await relay.start();
    try {
      // 100 transactions of 50 events (about 2.5 MB of WAL messages).
      for (let tx = 0; tx < 100; tx += 1) {
        await db.pool.query(`insert into outbox (id, aggregatetype, aggregateid, type, payload)
          select gen_random_uuid(), 'P', 'p-' || (n % 10), 'E', jsonb_build_object('n', n, 'pad', repeat('x', 500)) from generate_series(1, 50) as n`);
      }
      // The walsender has sent all 5,000 events (they wait in the relay's socket buffers), and the relay read past
      // its limit of 50: so it paused, and an unpaused relay would now read everything within milliseconds.
      await until(async () => {
        const { rows } = await db.pool.query<{ behind: string | null }>(
          `select (pg_current_wal_lsn() - sent_lsn)::text as behind from pg_stat_replication r join pg_replication_slots s on s.active_pid = r.pid where s.slot_name = $1`,
          [options.slotName],
        );
        return rows[0]?.behind === '0' && (await metricValue(registry, 'strangler_outbox_backlog_events')) > 50;
      }, 20_000);
      // Held back: the limit plus the transactions read before the pause took effect, never the 5,000 available.
      for (let sample = 0; sample < 10; sample += 1) {
        expect(await metricValue(registry, 'strangler_outbox_backlog_events')).toBeLessThanOrEqual(150);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      publisher.release();
      await until(async () => (await metricValue(registry, 'strangler_outbox_published_total')) === 5_000, 60_000);
      expect(publisher.sent).toBe(5_000);
    } finally {
      publisher.release();
      await relay.stop();
    }
  });
});

describe('CDC relay operations (real Postgres and Kafka)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_outbox_ops');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('routes unpublishable events (too large, illegal topic, refused by the broker) to the DLQ with error headers and goes on', async () => {
    const options = testRelayOptions(db, { kafka: { maxRecordBytes: 4_000 } });
    const topic = `${options.topicPrefix}Doc`;
    const strictTopic = `${options.topicPrefix}Strict`;
    await createTopics([topic, options.dlqTopic]);
    const admin = testKafka('ops-admin').admin();
    await admin.connect();
    await createTopicsWithLeaders(admin, [{ topic: strictTopic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '1500' }] }]);
    await admin.disconnect();

    const registry = new Registry();
    const { relay } = await startRelay(options, registry);
    try {
      const before = await insertRaw(db, 'Doc', 'd-1', { n: 1 });
      const tooLarge = await insertRaw(db, 'Doc', 'd-2', { blob: 'x'.repeat(5_000) });
      const illegal = await insertRaw(db, 'Bad Topic!', 'd-3', { n: 3 });
      const refused = await insertRaw(db, 'Strict', 's-1', { blob: 'y'.repeat(2_500) });
      const after = await insertRaw(db, 'Doc', 'd-1', { n: 2 });

      const published = await collectRecords({ topics: [topic], count: 2, timeoutMs: 30_000, settleMs: 300 });
      // When the broker refuses a batch, its records are resent one by one to find the culprit: the ones that were
      // already written then arrive twice (a re-delivery, same order).
      expect([...new Set(published.map((record) => record.headers.id))]).toEqual([before, after]);
      const dead = await collectRecords({ topics: [options.dlqTopic], count: 3, timeoutMs: 30_000, settleMs: 300 });
      const byId = new Map(dead.map((record) => [record.headers.id, record]));
      expect(byId.get(tooLarge)).toMatchObject({
        key: 'd-2',
        value: null,
        headers: { type: 'Raw', 'sfg.error.code': 'SFG_OUTBOX_RECORD_TOO_LARGE', 'sfg.error.original.topic': topic, 'sfg.error.value.dropped': 'too_large' },
      });
      expect(byId.get(illegal)).toMatchObject({
        key: 'd-3',
        value: '{"n": 3}',
        headers: { 'sfg.error.code': 'SFG_OUTBOX_ILLEGAL_TOPIC', 'sfg.error.original.topic': `${options.topicPrefix}Bad Topic!` },
      });
      expect(byId.get(refused)).toMatchObject({ key: 's-1', headers: { 'sfg.error.code': 'SFG_OUTBOX_MESSAGE_TOO_LARGE', 'sfg.error.original.topic': strictTopic } });
      expect(await metricValue(registry, 'strangler_outbox_dlq_total', { relay: options.name })).toBe(3);
      expect(await metricValue(registry, 'strangler_outbox_published_total', { aggregatetype: 'Doc' })).toBe(2);
    } finally {
      await relay.stop();
    }
  });

  it('stops on an unpublishable event with onUnpublishable=stop, without confirming past it', async () => {
    const options = testRelayOptions(db, { onUnpublishable: 'stop' });
    const { relay } = await startRelay(options);
    try {
      await insertRaw(db, 'Worse Topic', 'w-1', {});
      const fatal = await relay.done;
      expect(fatal).toMatchObject({ code: 'SFG_OUTBOX_ILLEGAL_TOPIC', retriable: false });
      expect(relay.isLeader).toBe(false);
      const pending = await db.pool.query(
        `select count(*)::int as n from pg_logical_slot_peek_binary_changes($1, null, null, 'proto_version', '1', 'publication_names', $2)`,
        [options.slotName, options.publicationName],
      );
      expect(pending.rows[0].n).toBeGreaterThan(0);
    } finally {
      await relay.stop();
    }
  });

  it('moves an idle slot forward with heartbeats, so other writes do not pin WAL', async () => {
    const options = testRelayOptions(db, { heartbeatIntervalMs: 200 });
    const registry = new Registry();
    const { relay } = await startRelay(options, registry);
    try {
      await db.pool.query('create table if not exists noise (n int)');
      await db.pool.query('insert into noise select generate_series(1, 20000)');
      const { rows } = await db.pool.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
      await until(async () => {
        const slot = await db.pool.query('select confirmed_flush_lsn >= $2::pg_lsn as ok from pg_replication_slots where slot_name = $1', [options.slotName, rows[0]!.lsn]);
        return slot.rows[0]?.ok === true;
      });
      expect(await metricValue(registry, 'strangler_outbox_leader')).toBe(1);
    } finally {
      await relay.stop();
    }
  });

  it('refuses a slot of the same name that belongs to another database (slot names are per cluster)', async () => {
    const other = await createOutboxDatabase('sfg_outbox_other');
    try {
      const options = testRelayOptions(db);
      const first = await startRelay(options);
      try {
        const relay = createRelay({ ...options, connectionString: other.url }, { logger: quietLogger, registry: new Registry() });
        await expect(relay.start()).rejects.toMatchObject({ code: 'SFG_OUTBOX_SLOT_IN_OTHER_DATABASE' });
        await relay.stop();
      } finally {
        await first.relay.stop();
      }
    } finally {
      await other.drop();
    }
  });

  it('refuses to start when the slot it created has vanished, instead of silently recreating it', async () => {
    const options = testRelayOptions(db);
    const first = await startRelay(options);
    await first.relay.stop();
    // The walsender of the stopped relay exits asynchronously; only then can the slot be dropped.
    await until(async () => (await db.pool.query('select active from pg_replication_slots where slot_name = $1', [options.slotName])).rows[0]?.active === false);
    await db.pool.query('select pg_drop_replication_slot($1)', [options.slotName]);
    const relay = createRelay(options, { logger: quietLogger, registry: new Registry() });
    await expect(relay.start()).rejects.toBeInstanceOf(SlotMissingError);
    await relay.stop();
    expect((await db.pool.query('select count(*)::int as n from pg_replication_slots where slot_name = $1', [options.slotName])).rows[0].n).toBe(0);
  });
});
