import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool, PoolConfig } from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { appendMany, createRelay, createTopicsWithLeaders, migrateOutbox, parseRelayOptions, type OutboxEvent, type RelayOptions, type RelayOptionsInput } from '../../outbox';
import { createTestDatabase, testEnv, testKafka, uniqueName, type CollectedRecord, type TestDatabase } from '../helpers';

export const quietLogger = pino({ level: process.env.SFG_TEST_LOG_LEVEL ?? 'silent' });

/** Relay options for a test database, with a topic prefix unique to the test so topics never collide. */
export function testRelayOptions(
  db: Pick<TestDatabase, 'url'>,
  overrides: Omit<Partial<RelayOptionsInput>, 'kafka'> & { kafka?: Partial<RelayOptionsInput['kafka']> } = {},
): RelayOptions {
  const name = uniqueName('r').slice(0, 40);
  return parseRelayOptions({
    name,
    connectionString: db.url,
    topicPrefix: `${name.replace(/_/g, '-')}.`,
    dlqTopic: `${name.replace(/_/g, '-')}.dlq`,
    heartbeatIntervalMs: 500,
    leadership: { retryIntervalMs: 200 },
    polling: { intervalMs: 200 },
    ...overrides,
    kafka: { brokers: testEnv().kafkaBrokers, ...overrides.kafka },
  });
}

export async function startRelay(options: RelayOptions, registry = new Registry()) {
  const relay = createRelay(options, { logger: quietLogger, registry });
  await relay.start();
  return { relay, registry };
}

/**
 * Per aggregate (key), records must count up from 0 without gaps. Going back is allowed: a re-delivery after a
 * crash repeats a suffix and then continues in order. Returns how many records were such repeats: every record of a
 * re-delivered stretch, not just its first.
 */
export function assertPerKeyOrder(records: CollectedRecord[], sequenceOf: (record: CollectedRecord) => number): number {
  const previous = new Map<string, number>();
  const highest = new Map<string, number>();
  let repeats = 0;
  for (const record of records) {
    const key = record.key ?? '';
    const sequence = sequenceOf(record);
    const last = previous.get(key) ?? -1;
    if (sequence > last + 1) throw new Error(`aggregate ${key}: event ${sequence} arrived right after ${last} (out of order or lost)`);
    if (sequence <= (highest.get(key) ?? -1)) repeats += 1;
    else highest.set(key, sequence);
    previous.set(key, sequence);
  }
  return repeats;
}

/** Creates the topics (3 partitions, as auto-creation would) and waits for leaders, so consumers can subscribe at once. */
export async function createTopics(topics: string[], partitions = 3): Promise<void> {
  const admin = testKafka('strangler-test-admin').admin();
  await admin.connect();
  try {
    await createTopicsWithLeaders(admin, topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })));
  } finally {
    await admin.disconnect();
  }
}

export interface Workload {
  aggregateType: string;
  aggregates: number;
  eventsPerAggregate: number;
  writers: number;
  /** Events per transaction. */
  perTransaction: number;
  /** Pause of each writer between its transactions, to stretch the workload over time. */
  pauseMs?: number;
}

/**
 * Concurrent writers; writer w owns the aggregates a with a % writers == w, so each aggregate's events are written
 * in order (payload.seq = 0, 1, 2, ...). Transactions interleave across writers. Resolves with the event count.
 */
export async function writeWorkload(pool: Pool, workload: Workload, options: { lastTransactionAfter?: Promise<void> } = {}): Promise<number> {
  let written = 0;
  await Promise.all(
    Array.from({ length: workload.writers }, async (_, writer) => {
      const owned = Array.from({ length: workload.aggregates }, (_, index) => index).filter((index) => index % workload.writers === writer);
      const events: OutboxEvent[] = [];
      for (let seq = 0; seq < workload.eventsPerAggregate; seq += 1) {
        for (const aggregate of owned) {
          events.push({ aggregateType: workload.aggregateType, aggregateId: `a-${aggregate}`, type: 'Changed', payload: { seq }, headers: { writer: String(writer) } });
        }
      }
      for (let start = 0; start < events.length; start += workload.perTransaction) {
        // A test whose faults must all land while writes are still running holds each writer's last transaction.
        if (start + workload.perTransaction >= events.length) await options.lastTransactionAfter;
        const client = await pool.connect();
        try {
          await client.query('begin');
          await appendMany(client, events.slice(start, start + workload.perTransaction));
          await client.query('commit');
          written += Math.min(workload.perTransaction, events.length - start);
        } finally {
          client.release();
        }
        if (workload.pauseMs) await new Promise((resolve) => setTimeout(resolve, workload.pauseMs));
      }
    }),
  );
  return written;
}

export const seqOf = (record: CollectedRecord): number => (JSON.parse(record.value ?? '{}') as { seq: number }).seq;

/** Every (aggregate, seq) of the workload arrived, and per-aggregate order holds. Returns the repeat count. */
export function assertComplete(records: CollectedRecord[], workload: Pick<Workload, 'aggregates' | 'eventsPerAggregate'>): number {
  const seen = new Set(records.map((record) => `${record.key}#${seqOf(record)}`));
  const missing: string[] = [];
  for (let aggregate = 0; aggregate < workload.aggregates; aggregate += 1) {
    for (let seq = 0; seq < workload.eventsPerAggregate; seq += 1) if (!seen.has(`a-${aggregate}#${seq}`)) missing.push(`a-${aggregate}#${seq}`);
  }
  if (missing.length) throw new Error(`${missing.length} events never arrived, e.g. ${missing.slice(0, 5).join(', ')}`);
  return assertPerKeyOrder(records, seqOf);
}

export interface RelayProcess {
  child: ChildProcess;
  /** Resolves with the first log line matching (rejects after timeoutMs or if the process exits first). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

const CLI = path.join(__dirname, '..', '..', 'cli', 'index.ts');

/** Writes relay options to a temp JSON file for `strangler relay --config`. */
export function writeRelayConfig(options: RelayOptions): string {
  const file = path.join(os.tmpdir(), `${options.name}-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(options));
  return file;
}

/** Runs `strangler relay --config <file>` as a child process (the real CLI), collecting its JSON log lines. */
export function spawnRelay(configFile: string, extraArgs: string[] = []): RelayProcess {
  // node itself (not the tsx wrapper, which forks): a kill -9 must hit the relay process.
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'relay', '--config', configFile, '--metrics-port', '0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      const seen = lines.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`relay process: no log line matching ${pattern} in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        const waiter = { pattern, resolve: (line: string) => (clearTimeout(timer), resolve(line)) };
        waiters.push(waiter);
        void exited.then((code) => {
          if (!waiters.includes(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`relay process exited (${code}) before logging ${pattern}; stderr: ${stderr.slice(-2000)}`));
        });
      });
    },
  };
}

/**
 * The relay processes and config files of a test: `config` and `spawn` record them, `cleanUp` (in afterEach) kills
 * the processes still running (-9) and removes the files.
 */
export function relayProcesses() {
  const running: RelayProcess[] = [];
  const configs: string[] = [];
  return {
    config(options: RelayOptions): string {
      const file = writeRelayConfig(options);
      configs.push(file);
      return file;
    },
    spawn(config: string, extraArgs: string[] = []): RelayProcess {
      const relay = spawnRelay(config, extraArgs);
      running.push(relay);
      return relay;
    },
    /** Stops tracking a process that exited. */
    forget(relay: RelayProcess): void {
      running.splice(running.indexOf(relay), 1);
    },
    async cleanUp(): Promise<void> {
      for (const relay of running.splice(0)) {
        relay.child.kill('SIGKILL');
        await relay.exited;
      }
      for (const file of configs.splice(0)) fs.rmSync(file, { force: true });
    },
  };
}

/** A test database, with the outbox tables unless `migrate` is false. */
/**
 * Starts a leading relay and a standby, calls `running` (where a test starts its writes), then kills the leader
 * `kills` times (SIGKILL at a random moment 0.4 to 0.9 s after the last takeover), each time waiting for the standby
 * to report `streaming` and starting a new standby. Answers the last leader and standby, and each takeover's time.
 */
export async function killLeaders(
  spawn: () => RelayProcess,
  processes: { forget(relay: RelayProcess): void },
  streaming: RegExp,
  running: () => void,
  kills = 3,
): Promise<{ leader: RelayProcess; standby: RelayProcess; takeovers: number[] }> {
  let leader = spawn();
  await leader.waitFor(streaming, 30_000);
  let standby = spawn();
  await standby.waitFor(/standing by/, 30_000);
  running();
  const takeovers: number[] = [];
  for (let kill = 0; kill < kills; kill += 1) {
    await new Promise((resolve) => setTimeout(resolve, 400 + Math.floor(Math.random() * 500)));
    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    await leader.exited;
    processes.forget(leader);
    await standby.waitFor(streaming, 15_000);
    takeovers.push(Date.now() - killedAt);
    leader = standby;
    standby = spawn();
    await standby.waitFor(/standing by/, 30_000);
  }
  return { leader, standby, takeovers };
}

/**
 * Every change is there (`total` distinct ids), and a change sent again after a crash is the same change under the
 * same id: `identity` (key, source position, row image...) is equal for every copy.
 */
export function assertResentCopiesIdentical(records: CollectedRecord[], total: number, identity: (record: CollectedRecord) => unknown): void {
  const byId = new Map<string, CollectedRecord[]>();
  for (const record of records) byId.set(record.headers.id!, [...(byId.get(record.headers.id!) ?? []), record]);
  expect(byId.size).toBe(total);
  for (const copies of byId.values()) {
    const [first, ...again] = copies.map(identity);
    for (const copy of again) expect(copy).toEqual(first);
  }
}

export async function createOutboxDatabase(prefix: string, poolConfig: PoolConfig = {}, migrate = true): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix, poolConfig);
  if (migrate) await migrateOutbox(db.pool);
  return db;
}
