import fs from 'node:fs';
import path from 'node:path';
import { infraPaths } from '../../infra';
import { startKafkaBroker, type PrivateKafkaBroker } from '../../infra/kafka';
import { collectRecords, eventually, freePort, uniqueName, type TestDatabase } from '../helpers';
import { createOutboxDatabase, assertComplete, startRelay, testRelayOptions, writeWorkload, type Workload } from './support';


/** collectRecords reads KAFKA_BROKERS through testEnv(); point it at the private broker for one call. */
async function collectFrom(brokers: string[], options: Parameters<typeof collectRecords>[0]) {
  const previous = process.env.KAFKA_BROKERS;
  process.env.KAFKA_BROKERS = brokers.join(',');
  try {
    return await collectRecords(options);
  } finally {
    if (previous === undefined) delete process.env.KAFKA_BROKERS;
    else process.env.KAFKA_BROKERS = previous;
  }
}

describe('CDC relay across a Kafka broker restart (private broker, real Postgres)', () => {
  let db: TestDatabase;
  let broker: PrivateKafkaBroker | undefined;
  const name = uniqueName('sfg_kafka_restart');
  const dataDir = path.join(infraPaths().dataDir, name);
  let ports: { brokerPort: number; controllerPort: number };

  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_outbox_broker', { max: 8 });
    ports = { brokerPort: await freePort(), controllerPort: await freePort() };
    broker = await startKafkaBroker({ name, dataDir, ...ports });
  }, 120_000);
  afterAll(async () => {
    await broker?.kill();
    fs.rmSync(dataDir, { recursive: true, force: true });
    await db.drop();
  });

  it('loses nothing and keeps order when the broker stops mid-stream and comes back', async () => {
    const brokers = broker!.brokers;
    const options = testRelayOptions(db, { kafka: { brokers, requestTimeoutMs: 5_000 }, retryBackoffMs: { initial: 100, max: 1_000 } });
    const workload: Workload = { aggregateType: 'Stock', aggregates: 100, eventsPerAggregate: 50, writers: 2, perTransaction: 10, pauseMs: 15 };
    const { relay, registry } = await startRelay(options);
    try {
      const writes = writeWorkload(db.pool, workload);
      const total = async (metric: string) => (await registry.getSingleMetric(metric)!.get()).values.reduce((sum, value) => sum + value.value, 0);
      await eventually(async () => (await total('strangler_outbox_published_total')) >= 500, 30_000, '500 events published before the outage');
      await broker!.stop();
      // Writers go on while the broker is down; the relay holds the events and does not confirm them.
      await eventually(async () => (await total('strangler_outbox_publish_errors_total')) > 0, 30_000, 'the relay failing to send');
      const writtenDuringOutage = await db.pool.query<{ n: number }>('select count(*)::int as n from outbox');
      await eventually(
        async () => (await db.pool.query<{ n: number }>('select count(*)::int as n from outbox')).rows[0]!.n >= writtenDuringOutage.rows[0]!.n + 200,
        30_000,
        '200 more events written while the broker is down',
      );
      broker = await startKafkaBroker({ name, dataDir, ...ports });
      await writes;
      const records = await collectFrom(brokers, {
        topics: [`${options.topicPrefix}${workload.aggregateType}`],
        count: workload.aggregates * workload.eventsPerAggregate,
        timeoutMs: 90_000,
        settleMs: 500,
        distinctBy: (record) => record.headers.id!,
      });
      assertComplete(records, workload);
    } finally {
      await relay.stop();
    }
  }, 240_000);
});
