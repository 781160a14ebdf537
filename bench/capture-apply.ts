/**
 * The apply half of the capture benchmark (real Postgres and Kafka, see infra/): captured row changes of a legacy
 * schema applied to a differently shaped, multi-table service schema through the mapping by the sync consumer
 * (SyncConsumer, read-through: per chunk the keys are deduplicated, the legacy documents read with `= any`, written
 * with multi-row `unnest` statements, the sync state kept per key).
 * - backlog: BENCH_CHANGES row changes (order updates, and line inserts with an order update, 20 per transaction;
 *   20 % of them on 10 hot orders, the rest over 5,000) are captured by the table-capture relay and published while
 *   the sync is stopped; then it starts, and changes/s is counted from its start to the last change consumed (and,
 *   apart, from the first change handled to the last: without the sync's start);
 * - latency: with everything running, writers offer BENCH_CAPTURE_RATE changes/s (default 2,000, 20 per transaction)
 *   for BENCH_SECONDS after BENCH_WARMUP_SECONDS; each change's latency is its commit (as the writer saw it return) to
 *   the moment the service holds its state or a later one (a trigger on the service's table logs clock_timestamp()).
 * The sync runs in a process of its own (bench/capture-apply-sync.ts), as `strangler sync` runs beside `strangler relay`
 * and the monolith: the relay and the writers of this process do not share its event loop. BENCH_PROFILE=<file>: a V8
 * CPU profile of the sync's process during the backlog run.
 * With source `mysql` (bench/capture.ts --source mysql; BENCH_SOURCE=mysql when run alone) the legacy schema is in the
 * machine's MySQL/MariaDB (MYSQL_URL), captured from its binlog (BinlogCaptureRelay), read through by the sync with
 * locking reads (MySqlDatabase); the writers are the same, in MySQL's dialect, and take a transaction again when the
 * server rolls it back as a deadlock victim (as a monolith does); the service is Postgres either way.
 * Run alone (`tsx bench/capture-apply.ts`: a table, then one JSON line) or call measureCaptureApply() from bench/capture.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import mysql from 'mysql2/promise';
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { resolveEnvironment, withDatabase } from '../infra';
import { createRelay, ensureTopics, parseRelayOptions } from '../outbox';
import { loadMappingFile } from '../sync';
import type { SyncAnswer, SyncProcessConfig, SyncRequest } from './capture-apply-sync';
import { admin, dropDatabase, mysqlAdmin, mysqlUrl, percentile } from './support';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
const env = resolveEnvironment();

/** Where the legacy schema lives (the service is Postgres either way). */
export const SOURCES = ['postgres', 'mysql'] as const;
export type Source = (typeof SOURCES)[number];

export interface CaptureApplyOptions {
  /** The legacy database's engine: Postgres (logical replication) or MySQL/MariaDB (binlog). */
  source: Source;
  /** Row changes in the backlog. */
  changes: number;
  /** Changes per second offered in the latency run. */
  rate: number;
  seconds: number;
  warmupSeconds: number;
  /** Partitions per captured topic, worked on at once by the sync. */
  partitions: number;
  /** maxBatchEvents of the sync's inbox. */
  batch: number;
}

export interface CaptureApplyResult {
  /** Captured changes consumed per second from the backlog, through the mapping into the service. */
  applyRate: number;
  /**
   * The same from the first change handled on: without the sync's start (the mapping checked against both schemas,
   * the consumer group joined, the first fetch), which applyRate includes.
   */
  applyRateAfterFirst: number;
  backlogChanges: number;
  backlogSeconds: number;
  /** Distinct aggregates written to the service by the backlog run (hot keys fold within a chunk). */
  aggregates: number;
  /** The sync process's CPU time (user + system) per backlog change: hardly depends on what else the machine runs. */
  cpuMicrosPerChange: number;
  latency: { offered: number; p50: number; p99: number; max: number; samples: number };
}

const ORDERS = 5_000;
const HOT = 10;
const PER_TX = 20;

const LEGACY_SQL = `
  create schema bench;
  create table bench.orders (id integer primary key, customer text not null, status char(1) not null, total numeric(10,2) not null, note text not null default '');
  create table bench.order_lines (id bigserial primary key, order_id integer not null references bench.orders (id), sku text not null, qty integer not null, line_no integer not null);
  create index on bench.order_lines (order_id);
  alter table bench.order_lines replica identity full;
  insert into bench.orders (id, customer, status, total) select n, 'customer ' || n, 'P', n * 1.5 from generate_series(1, ${ORDERS}) n;
  insert into bench.order_lines (order_id, sku, qty, line_no) select n, 'SKU-' || n, 1, 0 from generate_series(1, ${ORDERS}) n;
`;

/** The same legacy schema in MySQL types, in the connection's database; its rows are inserted by MySqlLegacy.create. */
const MYSQL_LEGACY_SQL = `
  create table orders (id int primary key, customer varchar(200) not null, status char(1) not null, total decimal(10,2) not null, note text not null);
  create table order_lines (id bigint auto_increment primary key, order_id int not null, sku varchar(64) not null, qty int not null, line_no int not null,
    key (order_id), foreign key (order_id) references orders (id));
`;

const SERVICE_SQL = `
  create table orders (order_id integer primary key, customer_name text not null, state text not null, total_cents bigint not null, note text not null, version integer not null, written_by text);
  create table order_lines (order_id integer not null references orders (order_id) on delete cascade, line_no integer not null, sku text not null, quantity integer not null, primary key (order_id, line_no));
`;

/** Logs when the service holds each order's note (the writers put a sequence number there): the latency probe. */
const PROBE_SQL = `
  create table applied_log (order_id integer not null, marker bigint not null, at timestamptz not null);
  create function log_applied() returns trigger language plpgsql as $$
  begin
    if new.note <> '' then insert into applied_log values (new.order_id, new.note::bigint, clock_timestamp()); end if;
    return new;
  end $$;
  create trigger log_applied after insert or update on orders for each row execute function log_applied();
`;

const TRANSLATORS = `
const STATES = { P: 'placed', S: 'shipped', C: 'cancelled' };
exports.toService = ({ id, customer, status, total, note, lines }) => ({
  orderId: id, customerName: customer, state: STATES[String(status).trim()] || 'placed', totalCents: Math.round(Number(total) * 100), note,
  lines: (lines || []).map(({ sku, qty }) => ({ sku, quantity: qty })),
});
exports.toLegacy = ({ orderId, customerName, state, totalCents, note, lines }) => ({
  id: orderId, customer: customerName, status: { placed: 'P', shipped: 'S', cancelled: 'C' }[state], total: totalCents / 100, note,
  lines: (lines || []).map(({ sku, quantity }) => ({ sku, qty: quantity })),
});
`;

/** `tables`: legacy's two tables as the mapping names them (`bench.orders` on Postgres, `orders` in the URL's database on MySQL). */
function mappingYaml(topicPrefix: string, tables: { orders: string; lines: string }): string {
  return `origins: { legacy: legacy, service: orders }
capture: { topicPrefix: ${topicPrefix} }
aggregates:
  order:
    owner: service
    translators: ./translators.js
    legacy:
      captured: true
      table: ${tables.orders}
      key: id
      fields: { id: id, customer: customer, status: status, total: total, note: note }
      joined:
        - { table: ${tables.lines}, key: order_id, as: lines, position: line_no, fields: { sku: sku, qty: qty } }
    service:
      table: orders
      key: orderId
      version: version
      origin: written_by
      fields: { orderId: order_id, customerName: customer_name, state: state, totalCents: total_cents, note: note, version: version }
      joined:
        - { table: order_lines, key: order_id, as: lines, position: line_no, fields: { sku: sku, quantity: quantity } }
`;
}

/** Deterministic pseudo-random numbers, so runs are comparable. */
function generator(seed: number): (below: number) => number {
  let state = seed;
  return (below) => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return Math.floor(state / 65_536) % below;
  };
}

/** One transaction's changes: the markers per order, the line inserts, and each order's newest marker by key order. */
interface PlannedChanges {
  touched: Array<{ key: number; marker: number }>;
  lines: Array<{ key: number; marker: number }>;
  keys: number[];
  newest: Map<number, number>;
}

/**
 * One transaction of legacy changes, as a monolith's batch job would make it, in a few statements: order updates
 * (one row change per distinct order) and line inserts (each with an update of its order). Orders are locked in key
 * order first, so concurrent writers never deadlock; the note keeps the highest marker, so it only moves forward
 * whichever of two overlapping transactions commits first. Answers the row changes made and the markers per order.
 */
async function writeChanges(legacy: LegacyDatabase, random: (below: number) => number, next: () => number, count: number): Promise<{ changes: number; touched: Array<{ key: number; marker: number }> }> {
  const touched: Array<{ key: number; marker: number }> = [];
  const lines: Array<{ key: number; marker: number }> = [];
  const orders = new Set<number>();
  while (orders.size + lines.length < count) {
    const key = random(5) === 0 ? 1 + random(HOT) : 1 + HOT + random(ORDERS - HOT);
    const marker = next();
    touched.push({ key, marker });
    orders.add(key);
    if (random(5) === 0) lines.push({ key, marker });
  }
  const newest = new Map<number, number>();
  for (const { key, marker } of touched) newest.set(key, Math.max(newest.get(key) ?? 0, marker));
  const keys = [...newest.keys()].sort((a, b) => a - b);
  await legacy.commit({ touched, lines, keys, newest });
  return { changes: keys.length + lines.length, touched };
}

/** The legacy database of one measurement: its connection string, its captured tables, the monolith's writes. */
interface LegacyDatabase {
  url: string;
  /** The captured tables as the relay names them (its topics are `<prefix>.<table>`). */
  captured: string[];
  /** The tables as the mapping names them. */
  mappingTables: { orders: string; lines: string };
  /** Creates the schema and its rows. */
  create(): Promise<void>;
  /** Commits one transaction of planned changes. */
  commit(changes: PlannedChanges): Promise<void>;
  /** Every order whose note the writers set. */
  notes(): Promise<Array<{ id: number; note: string }>>;
  end(): Promise<void>;
  drop(): Promise<void>;
}

/** Legacy in Postgres (`bench` schema), captured by logical replication. */
class PostgresLegacy implements LegacyDatabase {
  readonly url: string;
  readonly captured = ['bench.orders', 'bench.order_lines'];
  readonly mappingTables = { orders: 'bench.orders', lines: 'bench.order_lines' };
  /** The monolith's own connections: the sync never waits behind the writers for one of its pool. */
  private readonly monolith: pg.Pool;

  constructor(private readonly database: string) {
    this.url = withDatabase(env.databaseUrl, database);
    this.monolith = new pg.Pool({ connectionString: this.url, max: 16 });
    // The forced drop at the end terminates sockets the pool has let go of but not yet closed.
    this.monolith.on('error', () => undefined);
  }

  async create(): Promise<void> {
    await admin(`create database "${this.database}"`);
    await this.monolith.query(LEGACY_SQL);
  }

  async commit({ lines, keys, newest }: PlannedChanges): Promise<void> {
    const client = await this.monolith.connect();
    try {
      await client.query('begin');
      await client.query('select 1 from bench.orders where id = any($1::int[]) order by id for update', [keys]);
      if (lines.length) {
        await client.query(`insert into bench.order_lines (order_id, sku, qty, line_no) select key, 'SKU-' || marker, 1, marker from unnest($1::int[], $2::bigint[]) as l(key, marker)`, [lines.map((line) => line.key), lines.map((line) => line.marker)]);
      }
      await client.query(
        `update bench.orders o set note = greatest(nullif(o.note, '')::bigint, c.marker)::text, total = o.total + 1
           from unnest($1::int[], $2::bigint[]) as c(key, marker) where o.id = c.key`,
        [keys, keys.map((key) => newest.get(key)!)],
      );
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async notes(): Promise<Array<{ id: number; note: string }>> {
    return (await this.monolith.query(`select id, note from bench.orders where note <> ''`)).rows as Array<{ id: number; note: string }>;
  }

  end = () => this.monolith.end();
  drop = () => dropDatabase(this.database);
}

/** MySQL's deadlock victim (1213) and lock wait timeout (1205): the transaction was rolled back, a monolith takes it again. */
const MYSQL_RETRIED = new Set([1205, 1213]);

/**
 * Legacy in MySQL/MariaDB (a database of its own), captured from the binlog. The sync's read-through takes share
 * locks (next-key locks on the lines' index): a writer inserting lines can be chosen as a deadlock victim, and is
 * rolled back and taken again, as a monolith would (counted in `retried`).
 */
class MySqlLegacy implements LegacyDatabase {
  readonly url: string;
  readonly captured: string[];
  readonly mappingTables = { orders: 'orders', lines: 'order_lines' };
  retried = 0;
  private readonly monolith: mysql.Pool;

  constructor(private readonly database: string) {
    this.url = mysqlUrl(database);
    this.captured = [`${database}.orders`, `${database}.order_lines`];
    this.monolith = mysql.createPool({ uri: this.url, connectionLimit: 16, multipleStatements: true });
  }

  async create(): Promise<void> {
    await mysqlAdmin(`create database \`${this.database}\``);
    await this.monolith.query(MYSQL_LEGACY_SQL);
    const orders = Array.from({ length: ORDERS }, (_, index) => index + 1);
    await this.monolith.query('insert into orders (id, customer, status, total, note) values ?', [orders.map((n) => [n, `customer ${n}`, 'P', (n * 1.5).toFixed(2), ''])]);
    await this.monolith.query('insert into order_lines (order_id, sku, qty, line_no) values ?', [orders.map((n) => [n, `SKU-${n}`, 1, 0])]);
  }

  async commit({ lines, keys, newest }: PlannedChanges): Promise<void> {
    const connection = await this.monolith.getConnection();
    try {
      for (;;) {
        try {
          await connection.query('begin');
          await connection.query(`select 1 from orders where id in (${keys.join(',')}) order by id for update`);
          if (lines.length) {
            await connection.query('insert into order_lines (order_id, sku, qty, line_no) values ?', [lines.map((line) => [line.key, `SKU-${line.marker}`, 1, line.marker])]);
          }
          // MySQL's greatest() is null if any argument is: an empty note counts as 0.
          await connection.query(
            `update orders set note = greatest(coalesce(cast(nullif(note, '') as unsigned), 0), case id ${keys.map((key) => `when ${key} then ${newest.get(key)!}`).join(' ')} end),
               total = total + 1 where id in (${keys.join(',')})`,
          );
          await connection.query('commit');
          return;
        } catch (error) {
          await connection.query('rollback').catch(() => undefined);
          if (!MYSQL_RETRIED.has((error as { errno?: number }).errno ?? 0)) throw error;
          this.retried += 1;
        }
      }
    } finally {
      connection.release();
    }
  }

  async notes(): Promise<Array<{ id: number; note: string }>> {
    const [rows] = await this.monolith.query<mysql.RowDataPacket[]>(`select id, note from orders where note <> ''`);
    return rows as Array<{ id: number; note: string }>;
  }

  end = () => this.monolith.end();
  drop = () => mysqlAdmin(`drop database if exists \`${this.database}\``);
}

/** The legacy and service databases, the capture relay and the sync into the service, for one measurement. */
class CapturePath {
  /** Legacy, and the monolith's own connections to it: the sync never waits behind the writers for one of its pool. */
  readonly legacy: LegacyDatabase;
  readonly service: pg.Pool;
  readonly relayRegistry = new Registry();
  readonly topics: string[];
  private readonly relay;
  /** The sync: a process of its own (bench/capture-apply-sync.ts), as `strangler sync` runs beside the relay. */
  private readonly sync: ChildProcess;
  private readonly answers = new Map<number, (answer: SyncAnswer) => void>();
  private asked = 0;
  private exited: Promise<void>;
  private readonly dir: string;

  private constructor(
    readonly name: string,
    private readonly run: string,
    options: CaptureApplyOptions,
  ) {
    const topicPrefix = `${run.replace(/_/g, '-')}-${name}`;
    this.legacy = options.source === 'mysql' ? new MySqlLegacy(`${run}_${name}_legacy`) : new PostgresLegacy(`${run}_${name}_legacy`);
    this.topics = this.legacy.captured.map((table) => `${topicPrefix}.${table}`);
    this.service = new pg.Pool({ connectionString: withDatabase(env.databaseUrl, `${run}_${name}_service`), max: options.partitions * 2 + 2 });
    // The forced drop at the end terminates sockets the pools have let go of but not yet closed.
    this.service.on('error', () => undefined);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-bench-capture-'));
    fs.writeFileSync(path.join(this.dir, 'translators.js'), TRANSLATORS);
    fs.writeFileSync(path.join(this.dir, 'mapping.yaml'), mappingYaml(topicPrefix, this.legacy.mappingTables));
    // Checked here, where a mistake in it fails the bench at once (the sync's process loads it again).
    loadMappingFile(path.join(this.dir, 'mapping.yaml'));
    this.relay = createRelay(
      parseRelayOptions({
        name: `${name}_${process.pid}`,
        mode: 'tables',
        connectionString: this.legacy.url,
        capture: { tables: this.legacy.captured, topicPrefix },
        kafka: { brokers: env.kafkaBrokers },
      }),
      { logger, registry: this.relayRegistry },
    );
    const config: SyncProcessConfig = {
      mappingFile: path.join(this.dir, 'mapping.yaml'),
      legacyUrl: this.legacy.url,
      serviceUrl: withDatabase(env.databaseUrl, `${run}_${name}_service`),
      legacyConnections: options.partitions * 2 + 4,
      serviceConnections: options.partitions * 2 + 2,
      groupId: `${run}-${name}`,
      topicPrefix: `${run}-outbox.`,
      brokers: env.kafkaBrokers,
      batch: options.batch,
      partitions: options.partitions,
      ...(name === 'backlog' && process.env.BENCH_PROFILE ? { profile: process.env.BENCH_PROFILE } : {}),
    };
    this.sync = fork(path.join(__dirname, 'capture-apply-sync.ts'), [], { execArgv: process.execArgv, env: { ...process.env, BENCH_SYNC_CONFIG: JSON.stringify(config) } });
    this.exited = new Promise((resolve) => this.sync.once('exit', () => resolve()));
    this.sync.on('message', (answer: SyncAnswer) => {
      const key = answer.op === 'handled' ? answer.id : answer.op === 'failed' ? -1 : answer.op === 'started' ? -2 : -3;
      if (answer.op === 'failed') console.error(`the sync process failed: ${answer.message}`);
      const waiter = this.answers.get(key);
      this.answers.delete(key);
      waiter?.(answer);
    });
  }

  private ask(request: SyncRequest): Promise<SyncAnswer> {
    const key = request.op === 'handled' ? request.id : request.op === 'start' ? -2 : -3;
    return new Promise((resolve, reject) => {
      this.answers.set(key, resolve);
      this.answers.set(-1, (failure) => reject(new Error((failure as { message: string }).message)));
      this.sync.send(request);
    });
  }

  static async open(name: string, run: string, options: CaptureApplyOptions, probe: boolean): Promise<CapturePath> {
    await admin(`create database "${run}_${name}_service"`);
    const capture = new CapturePath(name, run, options);
    await capture.legacy.create();
    await capture.service.query(SERVICE_SQL);
    if (probe) await capture.service.query(PROBE_SQL);
    await ensureTopics({ brokers: env.kafkaBrokers }, capture.topics, { partitions: options.partitions });
    return capture;
  }

  startRelay = () => this.relay.start();
  startSync = async () => void (await this.ask({ op: 'start' }));

  /** Captured changes the sync has handled (every outcome but retried), and its process's CPU time since its start (µs). */
  async progress(): Promise<{ handled: number; cpuMicros: number }> {
    const answer = (await this.ask({ op: 'handled', id: (this.asked += 1) })) as { handled: number; cpuMicros: number };
    return { handled: answer.handled, cpuMicros: answer.cpuMicros };
  }

  async handled(): Promise<number> {
    return (await this.progress()).handled;
  }

  /** Records on the captured topics (every change, no deletes so no tombstones). */
  async published(): Promise<number> {
    const client = new Kafka({ brokers: env.kafkaBrokers, clientId: `${this.run}-offsets`, logLevel: logLevel.NOTHING }).admin();
    await client.connect();
    try {
      let total = 0;
      for (const topic of this.topics) for (const partition of await client.fetchTopicOffsets(topic)) total += Number(partition.high);
      return total;
    } finally {
      await client.disconnect();
    }
  }

  async close(): Promise<void> {
    if (this.sync.connected) await this.ask({ op: 'stop' });
    await this.exited;
    await this.relay.stop();
    if (this.legacy instanceof MySqlLegacy && this.legacy.retried) {
      process.stderr.write(`${this.name}: ${this.legacy.retried} monolith transactions rolled back by MySQL (deadlock victims) and taken again\n`);
    }
    await this.legacy.end();
    await this.service.end();
    await this.legacy.drop();
    await dropDatabase(`${this.run}_${this.name}_service`);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function pollUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`benchmark timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function backlog(
  run: string,
  options: CaptureApplyOptions,
): Promise<Pick<CaptureApplyResult, 'applyRate' | 'applyRateAfterFirst' | 'backlogChanges' | 'backlogSeconds' | 'aggregates' | 'cpuMicrosPerChange'>> {
  const capture = await CapturePath.open('backlog', run, options, false);
  try {
    await capture.startRelay();
    const random = generator(7);
    let marker = 0;
    let changes = 0;
    const writers = 4;
    const perWriter = Math.ceil(options.changes / PER_TX / writers);
    await Promise.all(
      Array.from({ length: writers }, async () => {
        for (let index = 0; index < perWriter && changes < options.changes; index += 1) {
          const written = await writeChanges(capture.legacy, random, () => (marker += 1), PER_TX);
          changes += written.changes;
        }
      }),
    );
    // The relay publishes the whole backlog before the sync starts: the rate below is the sync's alone.
    await pollUntil(async () => (await capture.published()) >= changes, 600_000, 'the backlog captured');
    const started = performance.now();
    await capture.startSync();
    let first: { at: number; handled: number } | undefined;
    let cpuMicros = 0;
    await pollUntil(
      async () => {
        const { handled, cpuMicros: used } = await capture.progress();
        if (!first && handled > 0) first = { at: performance.now(), handled };
        cpuMicros = used;
        return handled >= changes;
      },
      600_000,
      'the backlog applied',
    );
    const ended = performance.now();
    const seconds = (ended - started) / 1000;
    const aggregates = Number((await capture.service.query('select count(*) as n from orders')).rows[0].n);
    // Every order the backlog touched holds its last note on the service (nothing lost, nothing stale).
    const rows = await capture.legacy.notes();
    const held = new Map((await capture.service.query('select order_id, note from orders')).rows.map((row) => [row.order_id as number, row.note as string]));
    const wrong = rows.filter((row) => held.get(row.id) !== row.note);
    if (wrong.length) throw new Error(`${wrong.length} orders differ on the service after the backlog (e.g. ${JSON.stringify(wrong[0])})`);
    const afterFirst = first && ended > first.at ? (changes - first.handled) / ((ended - first.at) / 1000) : NaN;
    return { applyRate: changes / seconds, applyRateAfterFirst: afterFirst, backlogChanges: changes, backlogSeconds: seconds, aggregates, cpuMicrosPerChange: cpuMicros / changes };
  } finally {
    await capture.close();
  }
}

async function latency(run: string, options: CaptureApplyOptions): Promise<CaptureApplyResult['latency']> {
  const capture = await CapturePath.open('latency', run, options, true);
  try {
    await capture.startRelay();
    await capture.startSync();
    const random = generator(11);
    let marker = 0;
    // The load starts once the sync is live (its group joined, a first change applied), as on a running system.
    const first = await writeChanges(capture.legacy, random, () => (marker += 1), PER_TX);
    await pollUntil(async () => (await capture.handled()) >= first.changes, 60_000, 'the sync live');
    const committed: Array<{ key: number; marker: number; at: number; warmup: boolean }> = [];
    const warmupTransactions = Math.round((options.rate * options.warmupSeconds) / PER_TX);
    const transactions = warmupTransactions + Math.round((options.rate * options.seconds) / PER_TX);
    const intervalMs = (1000 * PER_TX) / options.rate;
    const started = performance.now();
    const origin = Date.now() - started;
    const inFlight: Promise<void>[] = [];
    let written = 0;
    // BENCH_DEBUG: every 500 ms, changes committed and changes the sync handled so far (to tell a stall from a backlog).
    const timeline = process.env.BENCH_DEBUG
      ? setInterval(() => void capture.handled().then((handled) => console.error(`${((performance.now() - started) / 1000).toFixed(1)} s: written ${written}, handled ${handled}`)), 500)
      : undefined;
    for (let index = 0; index < transactions; index += 1) {
      const wait = started + index * intervalMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      inFlight.push(
        writeChanges(capture.legacy, random, () => (marker += 1), PER_TX).then(({ touched, changes }) => {
          written += changes;
          const at = origin + performance.now();
          for (const entry of touched) committed.push({ ...entry, at, warmup: index < warmupTransactions });
        }),
      );
    }
    await Promise.all(inFlight);
    const offered = (transactions * PER_TX) / ((performance.now() - started) / 1000);
    setTimeout(() => clearInterval(timeline), 5_000).unref();
    const last = new Map<number, number>();
    for (const entry of committed) last.set(entry.key, Math.max(last.get(entry.key) ?? 0, entry.marker));
    await pollUntil(
      async () => {
        const { rows } = await capture.service.query(`select order_id, note from orders where note <> ''`);
        const held = new Map((rows as Array<{ order_id: number; note: string }>).map((row) => [row.order_id, Number(row.note)]));
        return [...last].every(([key, value]) => (held.get(key) ?? 0) >= value);
      },
      120_000,
      'every change applied',
    );
    const log = (await capture.service.query(`select order_id, marker, extract(epoch from at) * 1000 as at from applied_log order by at`)).rows as Array<{ order_id: number; marker: string; at: string }>;
    const byKey = new Map<number, Array<{ marker: number; at: number }>>();
    for (const row of log) {
      const entries = byKey.get(row.order_id) ?? [];
      entries.push({ marker: Number(row.marker), at: Number(row.at) });
      byKey.set(row.order_id, entries);
    }
    const samples: number[] = [];
    for (const change of committed) {
      if (change.warmup) continue;
      const applied = byKey.get(change.key)?.find((entry) => entry.marker >= change.marker);
      if (!applied) throw new Error(`change ${change.marker} of order ${change.key} never reached the service`);
      samples.push(Math.max(0, applied.at - change.at));
    }
    samples.sort((a, b) => a - b);
    return { offered, p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1] ?? NaN, samples: samples.length };
  } finally {
    await capture.close();
  }
}

/** Both measurements, one after the other (each on databases and topics of its own). */
export async function measureCaptureApply(options: Partial<CaptureApplyOptions> = {}): Promise<CaptureApplyResult> {
  const source = process.env.BENCH_SOURCE ?? 'postgres';
  if (!SOURCES.includes(source as Source)) throw new Error(`BENCH_SOURCE must be one of ${SOURCES.join(', ')}, not "${source}"`);
  const resolved: CaptureApplyOptions = {
    source: source as Source,
    changes: Number(process.env.BENCH_CHANGES ?? 50_000),
    rate: Number(process.env.BENCH_CAPTURE_RATE ?? 2_000),
    seconds: Number(process.env.BENCH_SECONDS ?? 10),
    warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 3),
    partitions: Number(process.env.BENCH_PARTITIONS ?? 4),
    batch: Number(process.env.BENCH_BATCH ?? 1_000),
    ...options,
  };
  const run = `bench_capapply_${process.pid}_${Date.now().toString(36)}`;
  const rate = await backlog(run, resolved);
  const lat = process.env.BENCH_BACKLOG_ONLY ? { offered: 0, p50: NaN, p99: NaN, max: NaN, samples: 0 } : await latency(run, resolved);
  return { ...rate, latency: lat };
}

async function main(): Promise<void> {
  const result = await measureCaptureApply();
  const rows = [
    ['apply through the mapping, from a backlog', `${Math.round(result.applyRate).toLocaleString('en-US')} changes/s`, `${result.backlogChanges} changes in ${result.backlogSeconds.toFixed(2)} s, ${result.aggregates} orders (2 tables each)`],
    ['the same, from the first change handled', `${Math.round(result.applyRateAfterFirst).toLocaleString('en-US')} changes/s`, "without the sync's start (schema checks, group join, first fetch)"],
    ['sync CPU per change (backlog)', `${result.cpuMicrosPerChange.toFixed(1)} µs`, "user + system of the sync's process while it applied the backlog"],
    ['commit -> applied p50', `${result.latency.p50.toFixed(1)} ms`, `at ${Math.round(result.latency.offered)} changes/s offered`],
    ['commit -> applied p99', `${result.latency.p99.toFixed(1)} ms`, `max ${result.latency.max.toFixed(1)} ms over ${result.latency.samples} changes`],
  ];
  for (const [name, value, detail] of rows) console.log(`${name!.padEnd(45)} ${value!.padStart(18)}   ${detail}`);
  console.log(
    JSON.stringify({
      captureApplyRate: Math.round(result.applyRate),
      captureApplyRateAfterFirst: Math.round(result.applyRateAfterFirst),
      captureApplyCpuMicrosPerChange: Number(result.cpuMicrosPerChange.toFixed(1)),
      captureApplyP50Ms: Number(result.latency.p50.toFixed(1)),
      captureApplyP99Ms: Number(result.latency.p99.toFixed(1)),
      captureApplyOffered: Math.round(result.latency.offered),
    }),
  );
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
