/**
 * Sync path benchmark (real Postgres and Kafka, see infra/): an event committed to one database's outbox, published
 * by the CDC relay, consumed by an InboxConsumer and applied to another database, exactly once and in order per
 * aggregate (the handler keeps only newer versions; the run checks every aggregate ends at its last version and the
 * inbox holds every event once).
 * - sustained: N events are written and published while the consumer is stopped; then it starts, and events/s is
 *   counted from the first apply to the last;
 * - latency: with everything running, writers offer a fixed load (default 2,000 events/s, 20 per transaction); each
 *   event's latency is its commit (as the writer saw it return) to the handler's write on the other database (the
 *   batch's commit follows in the same transaction, within its few milliseconds).
 * Prints a table, then one JSON line. Env: BENCH_EVENTS (default 50000), BENCH_RATE (2000), BENCH_SECONDS (10),
 * BENCH_WARMUP_SECONDS (3, offered before the measured seconds and not counted), BENCH_PARTITIONS (2; the consumer works on as many at once), BENCH_BATCH (maxBatchEvents, 500).
 */
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { resolveEnvironment, withDatabase } from '../infra';
import { admin, dropDatabase, percentile, waitFor } from './support';
import { appendMany, createRelay, ensureTopics, InboxConsumer, migrateOutbox, parseRelayOptions, type InboxEvent, type OutboxEvent } from '../outbox';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
const env = resolveEnvironment();
const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const RATE = Number(process.env.BENCH_RATE ?? 2_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 2);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const PER_TX = 20;
const AGGREGATES = 1_000;
const run = `bench_sync_${process.pid}_${Date.now().toString(36)}`;
/** Each measurement has its own topic, so a consumer reading from the beginning sees only its own events. */
const prefixOf = (name: string) => `${run.replace(/_/g, '-')}.${name}.`;

function events(count: number, offset: number): OutboxEvent[] {
  return Array.from({ length: count }, (_, index) => ({
    aggregateType: 'BenchOrder',
    aggregateId: `order-${(offset + index) % AGGREGATES}`,
    type: 'OrderChanged',
    payload: { n: offset + index, status: 'PAID', total: 129.9 },
    headers: { origin: 'bench', version: String(offset + index + 1) },
  }));
}

async function write(pool: pg.Pool, count: number, offset: number): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const ids = await appendMany(client, events(count, offset));
    await client.query('commit');
    return ids;
  } finally {
    client.release();
  }
}

/** One source database with its relay and one target database with its inbox consumer, for one measurement. */
class SyncPath {
  readonly appliedAt = new Map<string, number>();
  readonly source: pg.Pool;
  readonly target: pg.Pool;
  private readonly relay;
  private readonly consumer: InboxConsumer;

  constructor(readonly name: string) {
    const topicPrefix = prefixOf(name);
    this.source = new pg.Pool({ connectionString: withDatabase(env.databaseUrl, `${run}_${name}_src`), max: 8 });
    this.target = new pg.Pool({ connectionString: withDatabase(env.databaseUrl, `${run}_${name}_dst`), max: PARTITIONS + 2 });
    this.relay = createRelay(
      parseRelayOptions({ name: `${name}_${process.pid}`, mode: 'cdc', connectionString: withDatabase(env.databaseUrl, `${run}_${name}_src`), topicPrefix, kafka: { brokers: env.kafkaBrokers } }),
      { logger, registry: new Registry() },
    );
    this.consumer = new InboxConsumer(
      {
        name: `bench-${name}`,
        groupId: `${run}-${name}`,
        topics: [`${topicPrefix}BenchOrder`],
        topicPrefix,
        pool: this.target,
        kafka: { brokers: env.kafkaBrokers, clientId: `${run}-${name}` },
        maxBatchEvents: BATCH,
        partitionsConsumedConcurrently: PARTITIONS,
      },
      { logger, registry: new Registry(), batchHandler: (batch, client) => this.apply(batch, client) },
    );
  }

  /** One upsert per chunk: each aggregate's newest version in it (one statement cannot update a row twice). */
  private async apply(batch: InboxEvent[], client: pg.PoolClient): Promise<void> {
    const newest = new Map<string, { n: number; version: number }>();
    for (const event of batch) {
      const version = Number(event.headers.version);
      if ((newest.get(event.aggregateId)?.version ?? -1) < version) newest.set(event.aggregateId, { n: (event.payload as { n: number }).n, version });
    }
    await client.query(
      `insert into replica (id, n, version) select * from unnest($1::text[], $2::bigint[], $3::bigint[])
       on conflict (id) do update set n = excluded.n, version = excluded.version where replica.version < excluded.version`,
      [[...newest.keys()], [...newest.values()].map((row) => row.n), [...newest.values()].map((row) => row.version)],
    );
    const now = performance.now();
    for (const event of batch) this.appliedAt.set(event.id, now);
  }

  static async open(name: string): Promise<SyncPath> {
    await ensureTopics({ brokers: env.kafkaBrokers }, [`${prefixOf(name)}BenchOrder`], { partitions: PARTITIONS });
    await admin(`create database "${run}_${name}_src"`);
    await admin(`create database "${run}_${name}_dst"`);
    const path = new SyncPath(name);
    await migrateOutbox(path.source);
    await migrateOutbox(path.target);
    await path.target.query('create table replica (id text primary key, n bigint not null, version bigint not null)');
    return path;
  }

  startRelay = () => this.relay.start();
  startConsumer = () => this.consumer.start();

  /** Exactly once and in order: one inbox row per event, and every aggregate at its last version. */
  async check(written: number): Promise<void> {
    // The handler records its write before its batch commits: give the last batches their commit.
    let inbox = 0;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 20))) {
      inbox = (await this.target.query('select count(*)::int as n from inbox')).rows[0].n as number;
      if (inbox >= written) break;
    }
    if (inbox !== written) throw new Error(`inbox holds ${inbox} events, ${written} were written`);
    const { rows } = await this.target.query('select id, version from replica');
    for (const row of rows as Array<{ id: string; version: string }>) {
      const index = Number(row.id.slice('order-'.length));
      const last = index + AGGREGATES * Math.floor((written - 1 - index) / AGGREGATES) + 1;
      if (Number(row.version) !== last) throw new Error(`${row.id} ended at version ${row.version}, not its last (${last})`);
    }
  }

  async close(): Promise<void> {
    await this.consumer.stop();
    await this.relay.stop();
    await this.source.end();
    await this.target.end();
    await dropDatabase(`${run}_${this.name}_src`);
    await dropDatabase(`${run}_${this.name}_dst`);
  }
}

async function sustained(): Promise<number> {
  const path = await SyncPath.open('rate');
  try {
    await path.startRelay();
    for (let offset = 0; offset < EVENTS; offset += 1_000) await write(path.source, Math.min(1_000, EVENTS - offset), offset);
    // Let the relay publish the backlog before the consumer starts: the rate below is the consumer's alone.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await path.startConsumer();
    await waitFor(() => path.appliedAt.size >= EVENTS, 600_000, 'the backlog applied');
    const times = [...path.appliedAt.values()];
    const rate = (EVENTS - 1) / ((Math.max(...times) - Math.min(...times)) / 1000);
    await path.check(EVENTS);
    return rate;
  } finally {
    await path.close();
  }
}

async function latency(): Promise<{ p50: number; p99: number; max: number; offered: number }> {
  const path = await SyncPath.open('latency');
  try {
    await path.startRelay();
    await path.startConsumer();
    const committedAt = new Map<string, number>();
    /** Events of the first WARMUP_SECONDS: offered like the rest, not measured (connections, JIT, the first fetches). */
    const warmup = new Set<string>();
    const warmupTransactions = Math.round((RATE * WARMUP_SECONDS) / PER_TX);
    const transactions = warmupTransactions + Math.round((RATE * SECONDS) / PER_TX);
    const intervalMs = (1000 * PER_TX) / RATE;
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let index = 0; index < transactions; index += 1) {
      const wait = started + index * intervalMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      inFlight.push(
        write(path.source, PER_TX, index * PER_TX).then((ids) => {
          const now = performance.now();
          for (const id of ids) committedAt.set(id, now);
          if (index < warmupTransactions) for (const id of ids) warmup.add(id);
        }),
      );
    }
    await Promise.all(inFlight);
    const offered = (transactions * PER_TX) / ((performance.now() - started) / 1000);
    await waitFor(() => path.appliedAt.size >= committedAt.size, 120_000, 'every event applied');
    await path.check(committedAt.size);
    const samples = [...committedAt].filter(([id]) => !warmup.has(id)).map(([id, at]) => Math.max(0, path.appliedAt.get(id)! - at)).sort((a, b) => a - b);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1] ?? NaN, offered };
  } finally {
    await path.close();
  }
}

async function main(): Promise<void> {
  const rate = await sustained();
  const lat = await latency();
  const round = (value: number, digits = 0) => Number(value.toFixed(digits));
  console.log(`sync benchmark: commit -> relay -> Kafka (${PARTITIONS} partitions) -> inbox (batches of ${BATCH}, ${PARTITIONS} partitions at once) -> applied; ${EVENTS} events backlog; ${RATE} events/s offered for ${SECONDS} s`);
  console.table([
    { measure: 'sustained apply rate (events/s)', value: round(rate), target: '>= 20000' },
    { measure: 'offered load achieved (events/s)', value: round(lat.offered), target: String(RATE) },
    { measure: 'commit-to-applied p50 (ms)', value: round(lat.p50, 1), target: '' },
    { measure: 'commit-to-applied p99 (ms)', value: round(lat.p99, 1), target: '<= 50' },
    { measure: 'commit-to-applied max (ms)', value: round(lat.max, 1), target: '' },
  ]);
  console.log(JSON.stringify({ bench: 'sync', apply_events_per_s: round(rate), offered_events_per_s: round(lat.offered), p50_ms: round(lat.p50, 1), p99_ms: round(lat.p99, 1), partitions: PARTITIONS, batch: BATCH }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
