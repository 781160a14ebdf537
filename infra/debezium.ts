import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { InfraError } from './errors';
import { ensureDebianPackage } from './packages';
import { DEFAULTS, ROOT_DIR, resolveEnvironment } from './options';
import { commandExists, retrying, sleep } from './process';

/**
 * Real Debezium, for the side-by-side check of the table-capture relay: its Postgres connector from Maven Central,
 * run in Kafka Connect standalone (one JVM, offsets in a file), as a child process of the caller. Not part of the
 * demo's services: a test or a benchmark starts one, reads its records from Kafka and stops it.
 */
export const DEBEZIUM_VERSION = '3.6.1.Final';

/** The jar sets infra fetches: Debezium's Postgres connector (the default), and its MariaDB connector for binlog capture. */
export const DEBEZIUM_JAR_SETS = {
  postgres: { version: DEBEZIUM_VERSION, pom: path.join(ROOT_DIR, 'infra', 'debezium', 'pom.xml'), connector: 'debezium-connector-postgres' },
  mariadb: { version: '3.5.0.Final', pom: path.join(ROOT_DIR, 'infra', 'debezium', 'mariadb', 'pom.xml'), connector: 'debezium-connector-mariadb' },
} as const;
export type DebeziumJarSet = keyof typeof DEBEZIUM_JAR_SETS;
const LOG4J_CONFIG = path.join(ROOT_DIR, 'infra', 'debezium', 'log4j2.properties');
/** Jars whose presence shows that a fetch finished (it lands by one rename, so a half fetch is never seen). */
const markerJars = (set: DebeziumJarSet) => [`${DEBEZIUM_JAR_SETS[set].connector}-${DEBEZIUM_JAR_SETS[set].version}.jar`, `connect-runtime-${DEFAULTS.kafkaVersion}.jar`];

export function debeziumJarsDir(env: NodeJS.ProcessEnv = process.env, set: DebeziumJarSet = 'postgres'): string {
  const cacheRoot = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheRoot, 'strangler-fig', 'debezium', set === 'postgres' ? DEBEZIUM_VERSION : `${set}-${DEBEZIUM_JAR_SETS[set].version}`, 'libs');
}

function jarsPresent(dir: string, set: DebeziumJarSet): boolean {
  return fs.existsSync(dir) && markerJars(set).every((jar) => fs.existsSync(path.join(dir, jar)));
}

/**
 * Downloads Debezium's Postgres connector, Kafka Connect's runtime and their dependencies from Maven Central once
 * (`mvn dependency:copy-dependencies` on infra/debezium/pom.xml), into a cache outside the repository, and returns
 * that directory. One log line says when it fetches. Safe when several processes call it at once.
 */
export function ensureDebeziumJars(log: (line: string) => void, env: NodeJS.ProcessEnv = process.env, set: DebeziumJarSet = 'postgres'): string {
  const dir = debeziumJarsDir(env, set);
  const { pom: POM, version, connector } = DEBEZIUM_JAR_SETS[set];
  if (jarsPresent(dir, set)) return dir;
  const maven = ensureDebianPackage({ command: 'mvn', pkg: 'maven', purpose: "fetching Debezium's jars from Maven Central" }, log);
  if (!maven.available) throw new InfraError('SFG_INFRA_MISSING_TOOL', `debezium: ${maven.reason}`);
  log(`debezium: fetching Debezium ${version} (${connector}) and Kafka Connect ${DEFAULTS.kafkaVersion} jars from Maven Central into ${dir}`);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const staging = fs.mkdtempSync(path.join(path.dirname(dir), '.fetch-'));
  try {
    const result = spawnSync(
      'mvn',
      ['-q', '-B', '-Dstyle.color=never', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (result.status !== 0 || !jarsPresent(staging, set)) {
      throw new InfraError('SFG_INFRA_FETCH_FAILED', `debezium: mvn dependency:copy-dependencies failed with exit ${result.status}`);
    }
    try {
      fs.renameSync(staging, dir);
    } catch (error) {
      // Another process's fetch landed first: theirs is as good.
      if (!jarsPresent(dir, set)) throw error;
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return dir;
}

export interface DebeziumConnectorOptions {
  /** The connector's name in Connect (and the directory's, under `dir`). */
  name: string;
  /**
   * postgres://user[:password]@host:port/database of the captured database, or mysql://… for Debezium's MariaDB
   * connector (binlog, the `mariadb` jar set; slotName and publicationName are then unused, `tables` are `db.table`).
   */
  databaseUrl: string;
  /** Debezium's `topic.prefix`: topics are `<topicPrefix>.<schema>.<table>`, and `source.name` is it. */
  topicPrefix: string;
  /** `schema.table` names (`table.include.list`, and the filtered publication Debezium creates). */
  tables: string[];
  slotName: string;
  publicationName: string;
  brokers?: string[];
  /** More connector properties (Debezium's names), e.g. `{ 'tombstones.on.delete': 'false' }`. They win. */
  connectorProperties?: Record<string, string>;
  /** More worker properties (Connect's names). They win. */
  workerProperties?: Record<string, string>;
  /**
   * Where the properties, the offsets file and connect.log go. Default: a fresh temporary directory, removed by stop().
   * Pass one (and keep it) to resume from the stored offsets at the next start.
   */
  dir?: string;
  /** Connect's REST port (127.0.0.1); a free one by default. */
  restPort?: number;
  /** The JVM's heap (default 512 MB: Connect and one Postgres task fit well inside it). */
  heapMb?: number;
  /** How long to wait for the connector's task to run and its slot to be streaming (default 120 s). */
  timeoutMs?: number;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface ConnectorStatus {
  name: string;
  connector: { state: string; worker_id?: string; trace?: string };
  tasks: { id: number; state: string; worker_id?: string; trace?: string }[];
}

export interface RunningDebezium {
  pid: number;
  restUrl: string;
  dir: string;
  logPath: string;
  /** The connector's status from Connect's REST API. */
  status(): Promise<ConnectorStatus>;
  /** SIGTERM (Connect stops the task, flushes its offsets and exits), SIGKILL after graceMs. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

function properties(entries: Record<string, string>): string {
  const escape = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return `${Object.entries(entries).map(([key, value]) => `${key}=${escape(value)}`).join('\n')}\n`;
}

export function workerProperties(options: { brokers: string[]; offsetsFile: string; restPort: number }): Record<string, string> {
  return {
    'bootstrap.servers': options.brokers.join(','),
    // As the issue's records: JSON with no embedded schema.
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'key.converter.schemas.enable': 'false',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter.schemas.enable': 'false',
    'offset.storage.file.filename': options.offsetsFile,
    'offset.flush.interval.ms': '1000',
    listeners: `http://127.0.0.1:${options.restPort}`,
    // Every jar is on the classpath (no plugin.path); the connector is found through its ServiceLoader manifest, without a scan.
    'plugin.discovery': 'service_load',
  };
}

/** Debezium's MariaDB connector: binlog from now on, schema history in a Kafka topic. */
function mysqlConnectorProperties(options: DebeziumConnectorOptions): Record<string, string> {
  const url = new URL(options.databaseUrl);
  const databases = [...new Set(options.tables.map((table) => table.split('.')[0]!))];
  return {
    name: options.name,
    'connector.class': 'io.debezium.connector.mariadb.MariaDbConnector',
    'tasks.max': '1',
    'database.hostname': url.hostname,
    'database.port': url.port || '3306',
    'database.user': decodeURIComponent(url.username) || 'root',
    'database.password': decodeURIComponent(url.password),
    'database.server.id': String(5_400_000 + Math.floor(Math.random() * 100_000)),
    'topic.prefix': options.topicPrefix,
    'database.include.list': databases.join(','),
    'table.include.list': options.tables.map((table) => table.replace(/\./g, '\\.')).join(','),
    'snapshot.mode': 'no_data',
    'schema.history.internal.kafka.bootstrap.servers': (options.brokers ?? resolveEnvironment(options.env).kafkaBrokers).join(','),
    'schema.history.internal.kafka.topic': `${options.topicPrefix}.schema-history`,
    ...options.connectorProperties,
  };
}

export function connectorProperties(options: DebeziumConnectorOptions): Record<string, string> {
  if (/^mysql:/.test(options.databaseUrl)) return mysqlConnectorProperties(options);
  const url = new URL(options.databaseUrl);
  return {
    name: options.name,
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'plugin.name': 'pgoutput',
    'database.hostname': url.hostname,
    'database.port': url.port || '5432',
    'database.user': decodeURIComponent(url.username) || 'postgres',
    'database.password': decodeURIComponent(url.password),
    'database.dbname': decodeURIComponent(url.pathname.slice(1)) || 'postgres',
    'topic.prefix': options.topicPrefix,
    'table.include.list': options.tables.map((table) => table.replace(/\./g, '\\.')).join(','),
    'slot.name': options.slotName,
    'publication.name': options.publicationName,
    'publication.autocreate.mode': 'filtered',
    // Only changes from here on: the slot is created at the first start, the stored offset is resumed afterwards.
    'snapshot.mode': 'no_data',
    ...options.connectorProperties,
  };
}

/** A port between 20000 and 32000 that is free now: below the ephemeral range, so no outgoing connection takes it. */
async function freeRestPort(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.unref();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await free(port)) return port;
  }
  throw new InfraError('SFG_INFRA_START_FAILED', 'debezium: no free port between 20000 and 32000 for Connect REST');
}

/**
 * The JVM runs under a small shell that holds the read end of a pipe from this process: when this process dies
 * (even by SIGKILL) the pipe closes and the shell stops the JVM, so no Connect worker outlives its test.
 */
const WATCHDOG = [
  'exec 3<&0 </dev/null',
  '"$0" "$@" 3<&- &',
  'jvm=$!',
  '{ cat <&3 >/dev/null; kill -TERM "$jvm" 2>/dev/null; } &',
  'wait "$jvm"',
].join('\n');

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

async function slotStreaming(databaseUrl: string, slotName: string): Promise<void> {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ active: boolean }>('select active from pg_replication_slots where slot_name = $1', [slotName]);
    if (!rows[0]?.active) throw new Error(`slot ${slotName} is ${rows[0] ? 'not active' : 'not there'} yet`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Starts Kafka Connect standalone with one Debezium Postgres connector, and resolves once the connector and its task
 * are RUNNING and its replication slot is active (streaming): changes committed from then on are captured. Fetches
 * the jars first if this machine has none.
 */
export async function startDebezium(options: DebeziumConnectorOptions): Promise<RunningDebezium> {
  const log = options.log ?? (() => undefined);
  if (!commandExists('java')) throw new InfraError('SFG_INFRA_MISSING_TOOL', 'debezium: java not found: install JDK 17+');
  const jarsDir = ensureDebeziumJars(log, options.env, /^mysql:/.test(options.databaseUrl) ? 'mariadb' : 'postgres');
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `sfg-debezium-${options.name}-`));
  fs.mkdirSync(dir, { recursive: true });
  const restPort = options.restPort ?? (await freeRestPort());
  const restUrl = `http://127.0.0.1:${restPort}`;
  const workerPath = path.join(dir, 'worker.properties');
  const connectorPath = path.join(dir, 'connector.properties');
  const logPath = path.join(dir, 'connect.log');
  fs.writeFileSync(
    workerPath,
    properties({
      ...workerProperties({ brokers: options.brokers ?? resolveEnvironment(options.env).kafkaBrokers, offsetsFile: path.join(dir, 'offsets.dat'), restPort }),
      ...options.workerProperties,
    }),
  );
  fs.writeFileSync(connectorPath, properties(connectorProperties(options)));
  const heapMb = options.heapMb ?? 512;
  const jvmArgs = [
    `-Xms${Math.min(heapMb, 256)}m`,
    `-Xmx${heapMb}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    // Two cores shared with Postgres, Kafka and the tests: few compiler and GC threads.
    '-XX:CICompilerCount=2',
    '-XX:ParallelGCThreads=2',
    '-XX:ConcGCThreads=1',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
    '-cp',
    `${jarsDir}/*`,
    'org.apache.kafka.connect.cli.ConnectStandalone',
    workerPath,
    connectorPath,
  ];
  const out = fs.openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn('sh', ['-c', WATCHDOG, 'java', ...jvmArgs], { detached: true, stdio: ['pipe', out, out], env: options.env ?? process.env });
  } finally {
    fs.closeSync(out);
  }
  if (child.pid === undefined) {
    child.once('error', () => undefined);
    throw new InfraError('SFG_INFRA_START_FAILED', 'debezium: could not spawn sh');
  }
  const pid = child.pid;
  // The pipe must not keep this process alive, nor its end fail loudly when the shell is gone.
  child.stdin?.on('error', () => undefined);
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  child.unref();
  let stopped: Promise<void> | undefined;
  const stop = (graceMs = 30_000): Promise<void> =>
    (stopped ??= (async () => {
      // The JVM gets SIGTERM directly (not through the shell) and shuts down Connect: task stopped, offsets flushed.
      signalGroup(pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (groupAlive(pid) && Date.now() < deadline) await sleep(100);
      if (groupAlive(pid)) signalGroup(pid, 'SIGKILL');
      while (groupAlive(pid)) await sleep(50);
      child.stdin?.destroy();
      // A directory of our own goes with the worker (its offsets mean nothing to another one).
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    })());

  const status = async (): Promise<ConnectorStatus> => {
    const response = await fetch(`${restUrl}/connectors/${encodeURIComponent(options.name)}/status`, { signal: AbortSignal.timeout(3000) });
    if (!response.ok) throw new Error(`GET /connectors/${options.name}/status answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as ConnectorStatus;
  };
  const failedTrace = (current: ConnectorStatus) =>
    [current.connector, ...current.tasks].find((entry) => entry.state === 'FAILED')?.trace?.split('\n').slice(0, 3).join(' | ');

  try {
    await retrying(
      `debezium connector ${options.name}`,
      async () => {
        const current = await status();
        const trace = failedTrace(current);
        if (trace) throw new InfraError('SFG_INFRA_START_FAILED', `debezium connector ${options.name} FAILED: ${trace}`);
        if (current.connector.state !== 'RUNNING' || current.tasks.length === 0 || current.tasks.some((task) => task.state !== 'RUNNING')) {
          throw new Error(`connector ${current.connector.state}, tasks ${current.tasks.map((task) => task.state).join(',') || 'none'}`);
        }
        if (!/^mysql:/.test(options.databaseUrl)) await slotStreaming(options.databaseUrl, options.slotName);
      },
      {
        address: restUrl,
        timeoutMs: options.timeoutMs ?? 120_000,
        intervalMs: 250,
        maxIntervalMs: 1000,
        logPath,
        pid,
        retryOn: (error) => !(error instanceof InfraError),
      },
    );
  } catch (error) {
    // The error quotes the log's tail already.
    await stop(5000);
    throw error;
  }
  return { pid, restUrl, dir, logPath, status, stop };
}
