/**
 * Outbox relay benchmark (real Postgres and Kafka, see infra/):
 * - throughput: N events are written through appendMany while the relay is stopped, then the relay starts and
 *   publishes them; events/s from the first to the last Kafka acknowledgement (acks=all, idempotent, order kept);
 * - latency: with the CDC relay running, writers offer a fixed load (default 2,000 events/s, 20 per transaction);
 *   each event's latency is its commit (as the writer saw it return) to its Kafka acknowledgement.
 * Prints a table, then one JSON line. Env: BENCH_EVENTS (default 100000), BENCH_RATE (2000), BENCH_SECONDS (10).
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { resolveEnvironment, withDatabase } from '../infra';
import { admin, dropDatabase, offerOpenLoop, percentile, TimedPublisher, waitFor } from './support';
import { KafkaPublisher, appendMany, createRelay, migrateOutbox, parseRelayOptions, type OutboxEvent, type Publisher } from '../outbox';
import pg from 'pg';

// Logs go to stderr: stdout is the table and, last, the JSON line.
const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
const env = resolveEnvironment();
const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const RATE = Number(process.env.BENCH_RATE ?? 2_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PER_TX = 20;
const AGGREGATES = 1_000;
const run = `bench_outbox_${process.pid}_${Date.now().toString(36)}`;

function events(count: number, offset: number): OutboxEvent[] {
  return Array.from({ length: count }, (_, index) => ({
    aggregateType: 'BenchOrder',
    aggregateId: `order-${(offset + index) % AGGREGATES}`,
    type: 'OrderChanged',
    payload: { n: offset + index, status: 'PAID', total: 129.9, lines: [{ sku: 'sku-1', qty: 2 }] },
    headers: { origin: 'bench', version: String(offset + index) },
  }));
}

async function writeBacklog(pool: pg.Pool, count: number): Promise<void> {
  const perTx = 1_000;
  const writers = 4;
  let next = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (;;) {
        const offset = next;
        next += perTx;
        if (offset >= count) return;
        const client = await pool.connect();
        try {
          await client.query('begin');
          await appendMany(client, events(Math.min(perTx, count - offset), offset));
          await client.query('commit');
        } finally {
          client.release();
        }
      }
    }),
  );
}

function relayFor(url: string, mode: 'cdc' | 'polling', name: string, publisher: Publisher) {
  const options = parseRelayOptions({
    // Slot names are per cluster: make them unique to this run.
    name: `${name}_${process.pid}`,
    mode,
    connectionString: url,
    topicPrefix: `${run.replace(/_/g, '-')}.`,
    kafka: { brokers: env.kafkaBrokers },
    polling: { intervalMs: 50, batchSize: 5_000 },
  });
  return createRelay(options, { logger, registry: new Registry(), publisher });
}

async function throughput(mode: 'cdc' | 'polling'): Promise<number> {
  const database = `${run}_${mode}`;
  await admin(`create database "${database}"`);
  const url = withDatabase(env.databaseUrl, database);
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  try {
    await migrateOutbox(pool);
    const publisher = new TimedPublisher(new KafkaPublisher({ brokers: env.kafkaBrokers, clientId: `bench-${mode}` }, { logger }));
    // First start creates the slot (CDC) or the bookkeeping column (polling); the backlog is written while stopped.
    const setup = relayFor(url, mode, `${mode}_tp`, publisher);
    await setup.start();
    await setup.stop();
    await writeBacklog(pool, EVENTS);
    const relay = relayFor(url, mode, `${mode}_tp`, publisher);
    await relay.start();
    await waitFor(() => publisher.ackedAt.size >= EVENTS, 300_000);
    await relay.stop();
    return (EVENTS - 1) / ((publisher.lastAckMs - publisher.firstAckMs) / 1000);
  } finally {
    await pool.end();
    await dropDatabase(database);
  }
}

async function latency(): Promise<{ p50: number; p99: number; max: number; offered: number }> {
  const database = `${run}_latency`;
  await admin(`create database "${database}"`);
  const url = withDatabase(env.databaseUrl, database);
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  try {
    await migrateOutbox(pool);
    const publisher = new TimedPublisher(new KafkaPublisher({ brokers: env.kafkaBrokers, clientId: 'bench-latency' }, { logger }));
    const relay = relayFor(url, 'cdc', 'latency', publisher);
    await relay.start();
    const committedAt = new Map<string, number>();
    const offered = await offerOpenLoop({ rate: RATE, seconds: SECONDS, perTransaction: PER_TX }, async (index) => {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const ids = await appendMany(client, events(PER_TX, index * PER_TX));
        await client.query('commit');
        const now = performance.now();
        for (const id of ids) committedAt.set(id, now);
      } finally {
        client.release();
      }
    });
    await waitFor(() => publisher.ackedAt.size >= committedAt.size, 60_000);
    await relay.stop();
    const samples = [...committedAt].map(([id, at]) => Math.max(0, publisher.ackedAt.get(id)! - at)).sort((a, b) => a - b);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1] ?? NaN, offered };
  } finally {
    await pool.end();
    await dropDatabase(database);
  }
}

async function main(): Promise<void> {
  const cdc = await throughput('cdc');
  const polling = await throughput('polling');
  const lat = await latency();
  const round = (value: number, digits = 0) => Number(value.toFixed(digits));
  console.log(`outbox benchmark: ${EVENTS} events backlog; latency at ${RATE} events/s offered for ${SECONDS} s, ${PER_TX} events per transaction`);
  console.table([
    { measure: 'CDC throughput (events/s)', value: round(cdc), target: '>= 20000' },
    { measure: 'polling throughput (events/s)', value: round(polling), target: '>= 10000' },
    { measure: 'offered load achieved (events/s)', value: round(lat.offered), target: String(RATE) },
    { measure: 'commit-to-ack p50 (ms)', value: round(lat.p50, 1), target: '' },
    { measure: 'commit-to-ack p99 (ms)', value: round(lat.p99, 1), target: '<= 50' },
    { measure: 'commit-to-ack max (ms)', value: round(lat.max, 1), target: '' },
  ]);
  console.log(JSON.stringify({ bench: 'outbox', cdc_events_per_s: round(cdc), polling_events_per_s: round(polling), p50_ms: round(lat.p50, 1), p99_ms: round(lat.p99, 1) }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
