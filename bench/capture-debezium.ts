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
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { resolveEnvironment, withDatabase } from '../infra';
import { DEBEZIUM_VERSION, startDebezium, type RunningDebezium } from '../infra/debezium';
import { createRelay, createTopicsWithLeaders, parseRelayOptions, type Relay } from '../outbox';
import { captureMeter, median, type Capture, type Measure } from './capture-measure';
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

const topicsOf = (prefix: string) => TABLES.map((table) => `${prefix}.${table}`);
const { measure } = captureMeter(kafka, run, topicsOf, log);

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
