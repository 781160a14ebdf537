import fs from 'node:fs';
import path from 'node:path';
import { infraPaths } from '../../infra';
import { startKafkaBroker, type PrivateKafkaBroker } from '../../infra/kafka';
import { collectRecords, freePort, uniqueName, type TestDatabase } from '../helpers';
import { createOutboxDatabase, assertComplete, startRelay, testRelayOptions, writeWorkload, type Workload } from './support';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
      await sleep(1_000);
      await broker!.stop();
      // Writers go on while the broker is down; the relay holds the events and does not confirm them.
      await sleep(2_000);
      broker = await startKafkaBroker({ name, dataDir, ...ports });
      await writes;
      const records = await collectFrom(brokers, {
        topics: [`${options.topicPrefix}${workload.aggregateType}`],
        count: workload.aggregates * workload.eventsPerAggregate,
        timeoutMs: 90_000,
        settleMs: 500,
      });
      assertComplete(records, workload);
      // The relay really met the outage (failed sends), and still nothing is missing.
      const errors = await registry.getSingleMetric('strangler_outbox_publish_errors_total')!.get();
      expect(errors.values.reduce((sum, value) => sum + value.value, 0)).toBeGreaterThan(0);
    } finally {
      await relay.stop();
    }
  }, 240_000);
});
