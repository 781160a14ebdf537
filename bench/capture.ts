/**
 * Table-capture benchmark (real Postgres, or MySQL/MariaDB, and Kafka, see infra/): row changes of a three-table
 * schema (customers, orders, order lines with a composite key; text, varchar, numeric, timestamptz columns; hot keys
 * included) captured by the table-capture relay (`mode: 'tables'`) as Debezium change events.
 * `--source postgres` (the default): Postgres' logical replication (TableCaptureRelay); `--source mysql`: the
 * binlog of the machine's MySQL/MariaDB server (MYSQL_URL, default mysql://root@127.0.0.1:3306/; BinlogCaptureRelay),
 * the same schema in MySQL types (bench/capture-workload.ts) and the same measures:
 * - capture: BENCH_CHANGES row changes (updates, 100 per transaction, 4 writers) are committed while the relay is
 *   stopped (its slot exists; MySQL: its binlog position is saved); then it starts, and changes/s counts from the
 *   first Kafka acknowledgement to the last (acks=all, idempotent, order kept per key); BENCH_RUNS runs, the median
 *   is reported;
 *   The relay process's CPU time per change (user + system, from its start to the last acknowledgement) is reported
 *   too: unlike changes/s, it hardly depends on what else the machine runs.
 * - latency: with the relay running, writers offer BENCH_RATE changes/s (20 per transaction) for BENCH_SECONDS;
 *   each change's latency is its transaction's commit (as the writer saw it return) to its Kafka acknowledgement
 *   (the transaction is known by its txid on Postgres, by its GTID on MySQL: MariaDB's @@last_gtid).
 * - sync apply: syncApply() runs bench/capture-apply.ts: BENCH_APPLY_CHANGES (default 50000) captured changes applied
 *   through a mapping into a two-table service schema on Postgres from a backlog, and commit-to-applied at BENCH_RATE
 *   (with --source mysql the legacy schema is in MySQL).
 * Prints a table, then one JSON line. Env: BENCH_CHANGES (default 200000), BENCH_RUNS (1), BENCH_RATE (2000),
 * BENCH_SECONDS (10), BENCH_APPLY_CHANGES (50000).
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { resolveEnvironment, withDatabase } from '../infra';
import { KafkaPublisher, createRelay, ensureTopics, parseRelayOptions, type Publisher } from '../outbox';
import { createMysqlSchema, createSchema, latencyTransaction, MYSQL_TABLES, TABLES, writeBacklog } from './capture-workload';
import { measureCaptureApply, SOURCES, type Source } from './capture-apply';
import { admin, dropDatabase, mysqlAdmin, mysqlUrl, offerOpenLoop, percentile, TimedPublisher, waitFor } from './support';

const USAGE = `usage: npm run bench:capture [-- --source postgres|mysql]

  --source postgres   capture from Postgres' logical replication (the default)
  --source mysql      capture from the binlog of the MySQL/MariaDB server at MYSQL_URL
                      (default mysql://root@127.0.0.1:3306/; binlog on: npm run infra -- up mariadb)
  --help              this text

Env: BENCH_CHANGES (200000), BENCH_RUNS (1), BENCH_RATE (2000), BENCH_SECONDS (10), BENCH_APPLY_CHANGES (50000).
Prints a table, then one JSON line.`;

/** The command line: `--source postgres|mysql` (or `--source=…`), `--help`. */
function parseArgs(argv: string[]): { source: Source } {
  let source: Source = 'postgres';
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index]!;
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const value = arg === '--source' ? argv[(index += 1)] : arg.startsWith('--source=') ? arg.slice('--source='.length) : undefined;
    if (value === undefined && arg !== '--source') {
      console.error(`bench:capture: unknown argument "${arg}"\n\n${USAGE}`);
      process.exit(2);
    }
    if (!SOURCES.includes(value as Source)) {
      const given = value === undefined ? 'no value' : `"${value}"`;
      console.error(`bench:capture: --source must be one of ${SOURCES.join(', ')} (got ${given})\n\n${USAGE}`);
      process.exit(2);
    }
    source = value as Source;
  }
  return { source };
}

const { source: SOURCE } = parseArgs(process.argv.slice(2));

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

const topicPrefixOf = (name: string) => `${run.replace(/_/g, '-')}-${name}`;

/**
 * The relay for one measurement; its topics are created first, so no measurement waits for a topic's creation.
 * `tables`: as the relay names them (and its topics end): `shop.orders` on Postgres, `<database>.orders` on MySQL.
 */
async function captureRelay(url: string, tables: string[], name: string, publisher: Publisher) {
  const options = parseRelayOptions({
    mode: 'tables',
    // Slot names are per cluster: make them unique to this run.
    name: `${name}_${process.pid}`,
    connectionString: url,
    capture: { tables, topicPrefix: topicPrefixOf(name) },
    topics: { partitions: 3 },
    kafka: { brokers: env.kafkaBrokers },
  });
  await ensureTopics({ brokers: env.kafkaBrokers }, tables.map((table) => `${options.capture!.topicPrefix}.${table}`), { partitions: 3 });
  return createRelay(options, { logger, registry: new Registry(), publisher });
}

/** One benchmark database of the source with the shop schema and its rows, and how the measures write to it. */
interface SourceDatabase {
  url: string;
  /** The captured tables, as the relay names them. */
  tables: string[];
  /** The Kafka header that names a record's transaction, and what the writer learns of its transaction. */
  transactionHeader: 'txid' | 'gtid';
  writeBacklog(total: number, perTransaction: number): Promise<number>;
  /** Commits latency transaction `index`: its id (as transactionHeader carries it) and when its commit returned. */
  commitLatencyTransaction(index: number): Promise<{ id: string; at: number }>;
}

async function withDatabaseOf<T>(suffix: string, body: (database: SourceDatabase) => Promise<T>): Promise<T> {
  return SOURCE === 'mysql' ? withMysqlDatabaseOf(suffix, body) : withPostgresDatabaseOf(suffix, body);
}

async function withPostgresDatabaseOf<T>(suffix: string, body: (database: SourceDatabase) => Promise<T>): Promise<T> {
  const database = `${run}_${suffix}`;
  await admin(`create database "${database}"`);
  const url = withDatabase(env.databaseUrl, database);
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  try {
    await createSchema(pool);
    return await body({
      url,
      tables: TABLES,
      transactionHeader: 'txid',
      writeBacklog: (total, perTransaction) => writeBacklog(pool, total, perTransaction),
      async commitLatencyTransaction(index) {
        const client = await pool.connect();
        try {
          await client.query('begin');
          const { rows } = await client.query<{ txid: string }>(`select (pg_current_xact_id()::text::bigint % 4294967296)::text as txid`);
          await client.query(latencyTransaction(index, LATENCY_PER_TX));
          await client.query('commit');
          return { id: rows[0]!.txid, at: performance.now() };
        } finally {
          client.release();
        }
      },
    });
  } finally {
    await pool.end();
    await dropDatabase(database);
  }
}

async function withMysqlDatabaseOf<T>(suffix: string, body: (database: SourceDatabase) => Promise<T>): Promise<T> {
  const database = `${run}_${suffix}`;
  await mysqlAdmin(`create database \`${database}\``);
  const url = mysqlUrl(database);
  const pool = mysql.createPool({ uri: url, connectionLimit: 6, multipleStatements: true });
  try {
    await createMysqlSchema(pool);
    return await body({
      url,
      tables: MYSQL_TABLES.map((table) => `${database}.${table}`),
      transactionHeader: 'gtid',
      writeBacklog: (total, perTransaction) => writeBacklog(pool, total, perTransaction),
      async commitLatencyTransaction(index) {
        const connection = await pool.getConnection();
        try {
          await connection.query('begin');
          await connection.query(latencyTransaction(index, LATENCY_PER_TX, 'mysql'));
          await connection.query('commit');
          const at = performance.now();
          // MariaDB: the GTID (domain-server-sequence) of this session's last transaction, as the relay's gtid header.
          const [rows] = await connection.query<mysql.RowDataPacket[]>('select @@last_gtid as gtid');
          const gtid = String(rows[0]?.gtid ?? '');
          if (!gtid) throw new Error('the latency measure names transactions by MariaDB\'s @@last_gtid, which this server left empty');
          return { id: gtid, at };
        } finally {
          connection.release();
        }
      },
    });
  } finally {
    await pool.end();
    await mysqlAdmin(`drop database if exists \`${database}\``);
  }
}

/** Changes/s captured from a backlog committed while the relay was stopped. */
async function captureThroughput(round: number): Promise<{ perSecond: number; changes: number; cpuMicrosPerChange: number }> {
  return withDatabaseOf(`tp${round}`, async (database) => {
    // The binlog relay sends its position records through the same publisher: only the captured topics' records count.
    const prefix = `${topicPrefixOf(`tp${round}`)}.`;
    const publisher = new TimedPublisher(
      new KafkaPublisher({ brokers: env.kafkaBrokers, clientId: 'bench-capture' }, { logger }),
      () => 'all',
      SOURCE === 'mysql' ? (record) => record.topic.startsWith(prefix) : undefined,
    );
    // The first start creates the publication and the slot (MySQL: saves its position at the binlog's end); the
    // backlog is written while the relay is stopped.
    const setup = await captureRelay(database.url, database.tables, `tp${round}`, publisher);
    await setup.start();
    await setup.stop();
    const changes = await database.writeBacklog(CHANGES, PER_TX);
    const relay = await captureRelay(database.url, database.tables, `tp${round}`, publisher);
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
  return withDatabaseOf('latency', async (database) => {
    const prefix = `${topicPrefixOf('latency')}.`;
    const publisher = new TimedPublisher(
      new KafkaPublisher({ brokers: env.kafkaBrokers, clientId: 'bench-capture-latency' }, { logger }),
      (record) => record.headers[database.transactionHeader]!,
      SOURCE === 'mysql' ? (record) => record.topic.startsWith(prefix) : undefined,
    );
    const relay = await captureRelay(database.url, database.tables, 'latency', publisher);
    await relay.start();
    const committedAt = new Map<string, number>();
    const offered = await offerOpenLoop({ rate: RATE, seconds: SECONDS, perTransaction: LATENCY_PER_TX }, async (index) => {
      const { id, at } = await database.commitLatencyTransaction(index);
      committedAt.set(id, at);
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
async function syncApply(): Promise<{ appliedPerSecond: number; appliedP99Ms: number; offered: number } | undefined> {
  // bench/capture-apply.ts: its own databases and topics (a legacy schema, a two-table service schema, hot keys).
  const result = await measureCaptureApply({ changes: Number(process.env.BENCH_APPLY_CHANGES ?? 50_000), rate: RATE, seconds: SECONDS, source: SOURCE });
  return { appliedPerSecond: result.applyRate, appliedP99Ms: result.latency.p99, offered: result.latency.offered };
}

async function mysqlVersion(): Promise<string> {
  const connection = await mysql.createConnection({ uri: mysqlUrl() });
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>('select version() as version');
    return String(rows[0]!.version);
  } finally {
    await connection.end();
  }
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
  // The issue's targets: Postgres' (issue 36) and MySQL's (issue 38: captured and commit-to-applied p99 only).
  const targets = SOURCE === 'mysql' ? { captured: '>= 10000', applied: '', appliedP99: '<= 100' } : { captured: '>= 30000', applied: '>= 20000', appliedP99: '<= 50' };
  console.log(
    `capture benchmark, source ${SOURCE === 'mysql' ? `mysql (${await mysqlVersion()} binlog)` : 'postgres'}: ${changes} row changes backlog (${PER_TX} per transaction, 3 tables), median of ${RUNS} run(s) [${runs.map((value) => round(value)).join(', ')}]; ` +
      `latency at ${RATE} changes/s offered for ${SECONDS} s, ${LATENCY_PER_TX} per transaction`,
  );
  console.table([
    { measure: 'changes captured (changes/s)', value: round(captured), target: targets.captured },
    { measure: 'relay process CPU per change (µs)', value: round(cpuPerChange, 1), target: '' },
    { measure: 'offered load achieved (changes/s)', value: round(lat.offered), target: String(RATE) },
    { measure: 'commit-to-ack p50 (ms)', value: round(lat.p50, 1), target: '' },
    { measure: 'commit-to-ack p99 (ms)', value: round(lat.p99, 1), target: '' },
    { measure: 'commit-to-ack max (ms)', value: round(lat.max, 1), target: '' },
    ...(sync
      ? [
          { measure: 'applied through the mapping (changes/s)', value: round(sync.appliedPerSecond), target: targets.applied },
          { measure: 'commit-to-applied p99 (ms)', value: round(sync.appliedP99Ms, 1), target: targets.appliedP99 },
          { measure: 'sync phase: offered load achieved (changes/s)', value: round(sync.offered), target: String(RATE) },
        ]
      : []),
  ]);
  console.log(
    JSON.stringify({
      bench: 'capture',
      source: SOURCE,
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
