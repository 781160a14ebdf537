/**
 * Binlog capture, side by side with real Debezium (the machine's MariaDB with its binlog on, real Kafka; Debezium's
 * MariaDB connector 3.5.0.Final, the newest on Maven Central, in Kafka Connect 4.1.1 standalone, see infra/debezium.ts;
 * its jars are fetched from Maven Central on first use). The engine choice of docs/capture.md, "MySQL and MariaDB",
 * rests on these figures.
 *
 * The backlog: the shop schema of bench/capture-workload.ts in MySQL types (customers, orders, order lines with a
 * composite key; varchar, decimal, datetime, timestamp columns), row updates, 100 rows per transaction, 4 writers,
 * hot keys. Both captures start once (no data: from the end of the binlog) and stop; then, per round, BENCH_CHANGES
 * row changes are committed while both are stopped, and each in turn starts on them (Debezium first in odd rounds,
 * ours first in even ones). Per capture and round:
 * - changes/s from the first to the last record on Kafka (the records' CreateTime: the same measure for both);
 * - start to all on Kafka: from the start call to the last record (Debezium's includes its JVM's start).
 * Prints a table (medians over BENCH_ROUNDS rounds), then one JSON line.
 * Env: MYSQL_URL (default mysql://root@127.0.0.1:3306/), BENCH_CHANGES (default 100000), BENCH_ROUNDS (3),
 * BENCH_DEBEZIUM=0 measures ours alone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import mysql from 'mysql2/promise';
import pino from 'pino';
import { Registry } from 'prom-client';
import { mariadbEnvironment, resolveEnvironment } from '../infra';
import { DEBEZIUM_JAR_SETS, startDebezium, type RunningDebezium } from '../infra/debezium';
import { createRelay, createTopicsWithLeaders, parseRelayOptions, type Relay } from '../outbox';
import { captureMeter, median, type Capture } from './capture-measure';
import { createMysqlSchema, MYSQL_TABLES, writeBacklog } from './capture-workload';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
const env = resolveEnvironment();
const CHANGES = Number(process.env.BENCH_CHANGES ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WITH_DEBEZIUM = process.env.BENCH_DEBEZIUM !== '0';
const PARTITIONS = 3;
const PER_TX = 100;
const run = `bench_binlog_${process.pid}_${Date.now().toString(36)}`;
const serverUrl = mariadbEnvironment().url;
const url = new URL(serverUrl);
url.pathname = `/${run}`;
const TABLES = MYSQL_TABLES.map((table) => `${run}.${table}`);
const kafka = new Kafka({ clientId: 'bench-capture-binlog', brokers: env.kafkaBrokers, logLevel: logLevel.NOTHING });
const log = (line: string) => process.stderr.write(`${line}\n`);

const topicsOf = (prefix: string) => TABLES.map((table) => `${prefix}.${table}`);
const { measure } = captureMeter(kafka, run, topicsOf, log);

async function main(): Promise<void> {
  const serverAdmin = await mysql.createConnection({ uri: serverUrl });
  await serverAdmin.query(`create database \`${run}\``);
  const [version] = await serverAdmin.query<mysql.RowDataPacket[]>('select version() as version');
  const pool = mysql.createPool({ uri: url.toString(), connectionLimit: 4, multipleStatements: true });
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
    await serverAdmin.query(`drop database if exists \`${run}\``);
    await serverAdmin.end();
    fs.rmSync(debeziumDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping both captures and dropping ${run}`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  try {
    await createMysqlSchema(pool);
    await createTopicsWithLeaders(
      kafkaAdmin,
      [prefixDebezium, prefixOurs].flatMap(topicsOf).map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
    );
    const captures: Capture[] = [
      {
        label: 'strangler-fig BinlogCaptureRelay',
        prefix: prefixOurs,
        async start() {
          relay = createRelay(
            parseRelayOptions({
              name: `${run}_sfg`.slice(0, 40),
              mode: 'tables',
              connectionString: url.toString(),
              capture: { tables: TABLES, topicPrefix: prefixOurs },
              kafka: { brokers: env.kafkaBrokers },
            }),
            { logger, registry: new Registry() },
          );
          await relay.start();
        },
        async stop() {
          await relay?.stop();
          relay = undefined;
        },
      },
    ];
    if (WITH_DEBEZIUM) {
      captures.unshift({
        label: `Debezium ${DEBEZIUM_JAR_SETS.mariadb.version} MariaDB connector`,
        prefix: prefixDebezium,
        async start() {
          debezium = await startDebezium({ name: 'bench', databaseUrl: url.toString(), topicPrefix: prefixDebezium, tables: TABLES, slotName: '', publicationName: '', dir: debeziumDir, log });
        },
        async stop() {
          await debezium?.stop();
          debezium = undefined;
        },
      });
    }
    // First starts: each takes its position at the end of the binlog (Debezium: its schema, no data).
    for (const capture of captures) {
      await capture.start();
      // Debezium reports RUNNING before its binlog reader connects: let it settle before its offsets are flushed.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await capture.stop();
    }
    const results = new Map<string, { ratePerS: number; wallMs: number }[]>(captures.map((capture) => [capture.label, []]));
    for (let round = 1; round <= ROUNDS; round += 1) {
      const changes = await writeBacklog(pool, CHANGES, PER_TX);
      const order = round % 2 === 1 ? captures : [...captures].reverse();
      for (const capture of order) {
        const result = await measure(capture, kafkaAdmin, changes);
        results.get(capture.label)!.push(result);
        log(`round ${round}: ${capture.label}: ${Math.round(result.ratePerS)} changes/s, ${Math.round(result.wallMs)} ms start to all on Kafka`);
      }
    }
    const rows = captures.map((capture) => {
      const measures = results.get(capture.label)!;
      return { label: capture.label, ratePerS: median(measures.map((m) => m.ratePerS)), wallMs: median(measures.map((m) => m.wallMs)), runs: measures.map((m) => Math.round(m.ratePerS)) };
    });
    console.log(`binlog capture from a backlog of ${CHANGES} row changes on ${String(version[0]!.version)} (${ROUNDS} rounds, medians)`);
    console.log('capture                                  | changes/s | start to all on Kafka (ms) | per round (changes/s)');
    for (const row of rows) console.log(`${row.label.padEnd(40)} | ${String(Math.round(row.ratePerS)).padStart(9)} | ${String(Math.round(row.wallMs)).padStart(26)} | ${row.runs.join(', ')}`);
    const ours = rows.find((row) => row.label.startsWith('strangler'))!;
    const theirs = rows.find((row) => row.label.startsWith('Debezium'));
    console.log(
      JSON.stringify({
        bench: 'capture-binlog',
        server: String(version[0]!.version),
        changes: CHANGES,
        rounds: ROUNDS,
        oursChangesPerS: Math.round(ours.ratePerS),
        oursStartToAllMs: Math.round(ours.wallMs),
        oursRuns: ours.runs,
        ...(theirs ? { debeziumChangesPerS: Math.round(theirs.ratePerS), debeziumStartToAllMs: Math.round(theirs.wallMs), debeziumRuns: theirs.runs } : {}),
      }),
    );
  } finally {
    await cleanUp();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
