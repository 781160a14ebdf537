import pino from 'pino';
import { Registry } from 'prom-client';
import { createRelay, parseRelayOptions, type RelayOptions, type RelayOptionsInput } from '../../outbox';
import { testEnv, testKafka, uniqueName, type CollectedRecord, type TestDatabase } from '../helpers';

export const quietLogger = pino({ level: process.env.SFG_TEST_LOG_LEVEL ?? 'silent' });

/** Relay options for a test database, with a topic prefix unique to the test so topics never collide. */
export function testRelayOptions(db: TestDatabase, overrides: Partial<RelayOptionsInput> = {}): RelayOptions {
  const name = uniqueName('r').slice(0, 40);
  return parseRelayOptions({
    name,
    connectionString: db.url,
    topicPrefix: `${name.replace(/_/g, '-')}.`,
    dlqTopic: `${name.replace(/_/g, '-')}.dlq`,
    kafka: { brokers: testEnv().kafkaBrokers },
    heartbeatIntervalMs: 500,
    leadership: { retryIntervalMs: 200 },
    polling: { intervalMs: 200 },
    ...overrides,
  });
}

export async function startRelay(options: RelayOptions, registry = new Registry()) {
  const relay = createRelay(options, { logger: quietLogger, registry });
  await relay.start();
  return { relay, registry };
}

/**
 * Per aggregate (key), records must count up from 0 without gaps. Going back is allowed: a re-delivery after a
 * crash repeats a suffix and then continues in order. Returns how many records were such repeats.
 */
export function assertPerKeyOrder(records: CollectedRecord[], sequenceOf: (record: CollectedRecord) => number): number {
  const previous = new Map<string, number>();
  let repeats = 0;
  for (const record of records) {
    const key = record.key ?? '';
    const sequence = sequenceOf(record);
    const last = previous.get(key) ?? -1;
    if (sequence > last + 1) throw new Error(`aggregate ${key}: event ${sequence} arrived right after ${last} (out of order or lost)`);
    if (sequence <= last) repeats += 1;
    previous.set(key, sequence);
  }
  return repeats;
}

/** Creates the topics (3 partitions, as auto-creation would) and waits for leaders, so consumers can subscribe at once. */
export async function createTopics(topics: string[], partitions = 3): Promise<void> {
  const admin = testKafka('strangler-test-admin').admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })), waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}
