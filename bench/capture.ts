/**
 * Table-capture benchmark (real Postgres and Kafka, see infra/): row changes of a three-table schema (customers,
 * orders, order lines with a composite key; text, varchar, numeric, timestamptz columns; hot keys included)
 * captured by the table-capture relay (`mode: 'tables'`) as Debezium change events.
 * - capture: BENCH_CHANGES row changes (updates, 100 per transaction, 4 writers) are committed while the relay is
 *   stopped (its slot exists); then it starts, and changes/s counts from the first Kafka acknowledgement to the last
 *   (acks=all, idempotent, order kept per key); BENCH_RUNS runs, the median is reported;
 *   The relay process's CPU time per change (user + system, from its start to the last acknowledgement) is reported
 *   too: unlike changes/s, it hardly depends on what else the machine runs.
 * - latency: with the relay running, writers offer BENCH_RATE changes/s (20 per transaction) for BENCH_SECONDS;
 *   each change's latency is its transaction's commit (as the writer saw it return) to its Kafka acknowledgement.
 * - sync apply: syncApply() runs bench/capture-apply.ts: BENCH_APPLY_CHANGES (default 50000) captured changes applied
 *   through a mapping into a two-table service schema from a backlog, and commit-to-applied at BENCH_RATE.
 * Prints a table, then one JSON line. Env: BENCH_CHANGES (default 200000), BENCH_RUNS (1), BENCH_RATE (2000),
 * BENCH_SECONDS (10), BENCH_APPLY_CHANGES (50000).
 */
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { resolveEnvironment, withDatabase } from '../infra';
import { KafkaPublisher, createRelay, ensureTopics, parseRelayOptions, type Publisher } from '../outbox';
import { createSchema, latencyTransaction, TABLES, writeBacklog } from './capture-workload';
import { measureCaptureApply } from './capture-apply';
import { admin, dropDatabase, offerOpenLoop, percentile, TimedPublisher, waitFor } from './support';

// Logs go to stderr: stdout is the table and, last, the JSON line.
const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
const env = resolveEnvironment();
const CHANGES = Number(process.env.BENCH_CHANGES ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const RATE = Number(process.env.BENCH_RATE ?? 2_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PER_TX = 100;
const LATENCY_PER_TX = 20;
const run = `bench_capture_${process.pid}_${Date.now().toString(36)}`;

/** The relay for one measurement; its topics are created first, so no measurement waits for a topic's creation. */
async function captureRelay(url: string, name: string, publisher: Publisher) {
  const options = parseRelayOptions({
    mode: 'tables',
    // Slot names are per cluster: make them unique to this run.
    name: `${name}_${process.pid}`,
    connectionString: url,
    capture: { tables: TABLES, topicPrefix: `${run.replace(/_/g, '-')}-${name}` },
    topics: { partitions: 3 },
    kafka: { brokers: env.kafkaBrokers },
  });
  await ensureTopics({ brokers: env.kafkaBrokers }, TABLES.map((table) => `${options.capture!.topicPrefix}.${table}`), { partitions: 3 });
  return createRelay(options, { logger, registry: new Registry(), publisher });
}

async function withDatabaseOf<T>(suffix: string, body: (pool: pg.Pool, url: string) => Promise<T>): Promise<T> {
  const database = `${run}_${suffix}`;
  await admin(`create database "${database}"`);
  const url = withDatabase(env.databaseUrl, database);
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  try {
    await createSchema(pool);
    return await body(pool, url);
  } finally {
    await pool.end();
    await dropDatabase(database);
  }
}

/** Changes/s captured from a backlog committed while the relay was stopped. */
async function captureThroughput(round: number): Promise<{ perSecond: number; changes: number; cpuMicrosPerChange: number }> {
  return withDatabaseOf(`tp${round}`, async (pool, url) => {
    const publisher = new TimedPublisher(new KafkaPublisher({ brokers: env.kafkaBrokers, clientId: 'bench-capture' }, { logger }), () => 'all');
    // The first start creates the publication and the slot; the backlog is written while the relay is stopped.
    const setup = await captureRelay(url, `tp${round}`, publisher);
    await setup.start();
    await setup.stop();
    const changes = await writeBacklog(pool, CHANGES, PER_TX);
    const relay = await captureRelay(url, `tp${round}`, publisher);
    const cpuBefore = process.cpuUsage();
    await relay.start();
    await waitFor(() => publisher.acked >= changes, 600_000, 'the backlog to be acknowledged');
    const cpu = process.cpuUsage(cpuBefore);
    await relay.stop();
    return { perSecond: (changes - 1) / ((publisher.lastAckMs - publisher.firstAckMs) / 1000), changes, cpuMicrosPerChange: (cpu.user + cpu.system) / changes };
  });
}

/** Commit-to-Kafka-ack latency of changes offered at RATE per second, LATENCY_PER_TX per transaction. */
async function captureLatency(): Promise<{ p50: number; p99: number; max: number; offered: number }> {
  return withDatabaseOf('latency', async (pool, url) => {
    const publisher = new TimedPublisher(new KafkaPublisher({ brokers: env.kafkaBrokers, clientId: 'bench-capture-latency' }, { logger }), (record) => record.headers.txid!);
    const relay = await captureRelay(url, 'latency', publisher);
    await relay.start();
    const committedAt = new Map<string, number>();
    const offered = await offerOpenLoop({ rate: RATE, seconds: SECONDS, perTransaction: LATENCY_PER_TX }, async (index) => {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const { rows } = await client.query<{ txid: string }>(`select (pg_current_xact_id()::text::bigint % 4294967296)::text as txid`);
        await client.query(latencyTransaction(index, LATENCY_PER_TX));
        await client.query('commit');
        committedAt.set(rows[0]!.txid, performance.now());
      } finally {
        client.release();
      }
    });
    await waitFor(() => [...committedAt.keys()].every((txid) => publisher.ackedAt.has(txid)), 60_000, 'every transaction to be acknowledged');
    await relay.stop();
    const samples = [...committedAt].map(([txid, at]) => Math.max(0, publisher.ackedAt.get(txid)! - at)).sort((a, b) => a - b);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1] ?? NaN, offered };
  });
}

/**
 * Sync apply figures (issue 36, item 7): the apply rate through a mapping from a captured backlog and the
 * commit-to-applied p99 at BENCH_RATE, measured by the sync's own code. Undefined until the sync adds them here;
 * main() prints them in the table and the JSON line when present.
 */
async function syncApply(): Promise<{ appliedPerSecond: number; appliedP99Ms: number } | undefined> {
  // bench/capture-apply.ts: its own databases and topics (a legacy schema, a two-table service schema, hot keys).
  const result = await measureCaptureApply({ changes: Number(process.env.BENCH_APPLY_CHANGES ?? 50_000), rate: RATE, seconds: SECONDS });
  return { appliedPerSecond: result.applyRate, appliedP99Ms: result.latency.p99 };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const runs: number[] = [];
  const cpuRuns: number[] = [];
  let changes = 0;
  for (let round = 0; round < RUNS; round += 1) {
    const result = await captureThroughput(round);
    runs.push(result.perSecond);
    cpuRuns.push(result.cpuMicrosPerChange);
    changes = result.changes;
  }
  const captured = median(runs);
  const cpuPerChange = median(cpuRuns);
  const lat = await captureLatency();
  const sync = await syncApply();
  const round = (value: number, digits = 0) => Number(value.toFixed(digits));
  console.log(
    `capture benchmark: ${changes} row changes backlog (${PER_TX} per transaction, 3 tables), median of ${RUNS} run(s) [${runs.map((value) => round(value)).join(', ')}]; ` +
      `latency at ${RATE} changes/s offered for ${SECONDS} s, ${LATENCY_PER_TX} per transaction`,
  );
  console.table([
    { measure: 'changes captured (changes/s)', value: round(captured), target: '>= 30000' },
    { measure: 'relay process CPU per change (µs)', value: round(cpuPerChange, 1), target: '' },
    { measure: 'offered load achieved (changes/s)', value: round(lat.offered), target: String(RATE) },
    { measure: 'commit-to-ack p50 (ms)', value: round(lat.p50, 1), target: '' },
    { measure: 'commit-to-ack p99 (ms)', value: round(lat.p99, 1), target: '' },
    { measure: 'commit-to-ack max (ms)', value: round(lat.max, 1), target: '' },
    ...(sync
      ? [
          { measure: 'applied through the mapping (changes/s)', value: round(sync.appliedPerSecond), target: '>= 20000' },
          { measure: 'commit-to-applied p99 (ms)', value: round(sync.appliedP99Ms, 1), target: '<= 50' },
        ]
      : []),
  ]);
  console.log(
    JSON.stringify({
      bench: 'capture',
      captured_changes_per_s: round(captured),
      capture_runs: runs.map((value) => round(value)),
      capture_cpu_us_per_change: round(cpuPerChange, 1),
      capture_p50_ms: round(lat.p50, 1),
      capture_p99_ms: round(lat.p99, 1),
      ...(sync ? { applied_changes_per_s: round(sync.appliedPerSecond), applied_p99_ms: round(sync.appliedP99Ms, 1) } : {}),
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
