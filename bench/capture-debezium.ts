/**
 * Table capture, side by side with real Debezium (real Postgres and Kafka, see infra/; Debezium 3.6.1's Postgres
 * connector in Kafka Connect standalone, see infra/debezium.ts; its jars are fetched from Maven Central on first use).
 *
 * The backlog of bench/capture.ts (three tables shop.customers, shop.orders, shop.order_lines with a composite key;
 * updates, 100 rows per transaction, 4 writers, hot keys), captured twice, each capture with its own publication
 * and slot: Debezium (its defaults, pgoutput) and our TableCaptureRelay (its defaults). Both are started once (slots
 * created, nothing to send) and stopped; then, per round, BENCH_CHANGES row changes are committed while both are
 * stopped, and each in turn starts on them (Debezium first in odd rounds, ours first in even ones). Per capture and
 * round:
 * - changes/s from the first to the last record on Kafka (the records' CreateTime, which each producer sets when it
 *   batches the record: the same measure for both);
 * - start to all on Kafka: from the start call to the last record (Debezium's includes its JVM's start).
 * Prints a table (medians over BENCH_ROUNDS rounds), then one JSON line.
 * Env: BENCH_CHANGES (default 100000), BENCH_ROUNDS (3); BENCH_OURS_MAX_EVENTS sets our relay's batch.maxEvents.
 * Ctrl-C stops both and drops the benchmark's database and slots.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { resolveEnvironment, withDatabase } from '../infra';
import { DEBEZIUM_VERSION, startDebezium, type RunningDebezium } from '../infra/debezium';
import { createRelay, createTopicsWithLeaders, parseRelayOptions, type Relay } from '../outbox';
import { createSchema, TABLES, writeBacklog } from './capture-workload';
import { admin, dropDatabase } from './support';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
const env = resolveEnvironment();
const CHANGES = Number(process.env.BENCH_CHANGES ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const OURS_MAX_EVENTS = process.env.BENCH_OURS_MAX_EVENTS ? Number(process.env.BENCH_OURS_MAX_EVENTS) : undefined;
const PARTITIONS = 3;
const run = `bench_capdbz_${process.pid}_${Date.now().toString(36)}`;
const database = run;
const url = withDatabase(env.databaseUrl, database);
const kafka = new Kafka({ clientId: 'bench-capture-debezium', brokers: env.kafkaBrokers, logLevel: logLevel.NOTHING });
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Measure {
  ratePerS: number;
  wallMs: number;
}

interface Capture {
  label: string;
  prefix: string;
  /** Starts on the stored position (the slot's, or Debezium's offsets file). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

const topicsOf = (prefix: string) => TABLES.map((table) => `${prefix}.${table}`);

async function endOffsets(kafkaAdmin: Admin, prefix: string): Promise<Map<string, bigint>> {
  const ends = new Map<string, bigint>();
  for (const topic of topicsOf(prefix)) {
    for (const entry of await kafkaAdmin.fetchTopicOffsets(topic)) ends.set(`${topic}/${entry.partition}`, BigInt(entry.high));
  }
  return ends;
}

function added(before: Map<string, bigint>, now: Map<string, bigint>): number {
  let total = 0n;
  for (const [partition, high] of now) total += high - (before.get(partition) ?? 0n);
  return Number(total);
}

/** Reads the records from `from` on and returns their first and last CreateTime. */
async function createTimes(prefix: string, from: Map<string, bigint>, count: number): Promise<{ first: number; last: number }> {
  const consumer = kafka.consumer({ groupId: `${run}_reader_${prefix}_${Date.now()}`, maxWaitTimeInMs: 100, maxBytesPerPartition: 8 << 20 });
  let first = Infinity;
  let last = -Infinity;
  let seen = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: topicsOf(prefix), fromBeginning: true });
    let reached!: () => void;
    const done = new Promise<void>((resolve) => (reached = resolve));
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const [key, offset] of from) {
        const slash = key.lastIndexOf('/');
        consumer.seek({ topic: key.slice(0, slash), partition: Number(key.slice(slash + 1)), offset: offset.toString() });
      }
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const start = from.get(`${batch.topic}/${batch.partition}`) ?? 0n;
        for (const message of batch.messages) {
          if (BigInt(message.offset) < start) continue;
          const at = Number(message.timestamp);
          if (at < first) first = at;
          if (at > last) last = at;
          seen += 1;
        }
        if (seen >= count) reached();
      },
    });
    await done;
    return { first, last };
  } finally {
    await consumer.disconnect();
  }
}

async function measure(capture: Capture, kafkaAdmin: Admin, expected: number): Promise<Measure> {
  const before = await endOffsets(kafkaAdmin, capture.prefix);
  const started = performance.now();
  await capture.start();
  let allAt = 0;
  const deadline = Date.now() + 600_000;
  for (;;) {
    const count = added(before, await endOffsets(kafkaAdmin, capture.prefix));
    if (count >= expected) {
      allAt = performance.now();
      if (count > expected) log(`${capture.label}: ${count - expected} records more than the ${expected} changes`);
      break;
    }
    if (Date.now() > deadline) throw new Error(`${capture.label}: ${count} of ${expected} records after 600 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await capture.stop();
  const { first, last } = await createTimes(capture.prefix, before, expected);
  return { ratePerS: (expected - 1) / Math.max(0.001, (last - first) / 1000), wallMs: allAt - started };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(): Promise<void> {
  await admin(`create database "${database}"`);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  const prefixDebezium = `${run.replace(/_/g, '-')}-dbz`;
  const prefixOurs = `${run.replace(/_/g, '-')}-sfg`;
  const debeziumDir = path.join(os.tmpdir(), `${run}-debezium`);
  let debezium: RunningDebezium | undefined;
  let relay: Relay | undefined;
  const cleanUp = async () => {
    await debezium?.stop().catch(() => undefined);
    await relay?.stop().catch(() => undefined);
    await kafkaAdmin.disconnect();
    await pool.end();
    await dropDatabase(database);
    fs.rmSync(debeziumDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping both captures and dropping ${database}`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  try {
    await createSchema(pool);
    await createTopicsWithLeaders(
      kafkaAdmin,
      [prefixDebezium, prefixOurs].flatMap(topicsOf).map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
    );
    const debeziumCapture: Capture = {
      label: `Debezium ${DEBEZIUM_VERSION}`,
      prefix: prefixDebezium,
      async start() {
        debezium = await startDebezium({
          name: 'bench',
          databaseUrl: url,
          topicPrefix: prefixDebezium,
          tables: TABLES,
          slotName: `${run}_dbz`,
          publicationName: `${run}_dbz`,
          dir: debeziumDir,
          log,
        });
      },
      async stop() {
        await debezium?.stop();
        debezium = undefined;
      },
    };
    const oursCapture: Capture = {
      label: 'strangler-fig TableCaptureRelay',
      prefix: prefixOurs,
      async start() {
        relay = createRelay(
          parseRelayOptions({
            name: `${run}_sfg`,
            mode: 'tables',
            connectionString: url,
            capture: { tables: TABLES, topicPrefix: prefixOurs },
            kafka: { brokers: env.kafkaBrokers },
            ...(OURS_MAX_EVENTS ? { batch: { maxEvents: OURS_MAX_EVENTS } } : {}),
          }),
          { logger, registry: new Registry() },
        );
        await relay.start();
      },
      async stop() {
        await relay?.stop();
        relay = undefined;
      },
    };
    // First starts create the slots (and Debezium's offsets file); the backlogs are committed while both are stopped.
    for (const capture of [debeziumCapture, oursCapture]) {
      await capture.start();
      await capture.stop();
    }
    const results = new Map<string, Measure[]>([[debeziumCapture.label, []], [oursCapture.label, []]]);
    let changed = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      changed = await writeBacklog(pool, CHANGES);
      const order = round % 2 ? [debeziumCapture, oursCapture] : [oursCapture, debeziumCapture];
      for (const capture of order) {
        const result = await measure(capture, kafkaAdmin, changed);
        log(`round ${round}: ${capture.label}: ${Math.round(result.ratePerS)} changes/s, ${Math.round(result.wallMs)} ms from start to all ${changed} on Kafka`);
        results.get(capture.label)!.push(result);
      }
    }
    const summary = [...results].map(([label, measures]) => ({
      capture: label,
      'changes/s (median)': Math.round(median(measures.map((entry) => entry.ratePerS))),
      'changes/s (each round)': measures.map((entry) => Math.round(entry.ratePerS)).join(' '),
      'start to all on Kafka, ms (median)': Math.round(median(measures.map((entry) => entry.wallMs))),
    }));
    console.log(
      `capture side by side: backlog of ${changed} row changes (bench/capture-workload.ts: 3 tables, 100 per transaction, 4 writers), ` +
        `${ROUNDS} rounds, ${PARTITIONS} partitions per topic, each capture with its defaults${OURS_MAX_EVENTS ? ` (ours: batch.maxEvents ${OURS_MAX_EVENTS})` : ''}`,
    );
    console.table(summary);
    const [dbz, ours] = summary;
    console.log(
      JSON.stringify({
        bench: 'capture-debezium',
        changes: changed,
        rounds: ROUNDS,
        debezium_version: DEBEZIUM_VERSION,
        debezium_changes_per_s: dbz!['changes/s (median)'],
        ours_changes_per_s: ours!['changes/s (median)'],
        debezium_start_to_all_ms: dbz!['start to all on Kafka, ms (median)'],
        ours_start_to_all_ms: ours!['start to all on Kafka, ms (median)'],
      }),
    );
  } finally {
    await cleanUp();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
