import { Registry } from 'prom-client';
import { main } from '../../cli';
import { appendMany, createTopicsWithLeaders, ensureAndDescribeTopics, layoutDifferences, parseRelayOptions, type RelayOptions } from '../../outbox';
import { eventually, testEnv, testKafka, uniqueName, type TestDatabase } from '../helpers';
import { createOutboxDatabase, createTopics, startRelay, testRelayOptions } from './support';

const PARTITIONS_CHANGED = 'SFG_OUTBOX_TOPIC_PARTITIONS_CHANGED';
const METADATA_MAX_AGE_MS = 250;

async function withAdmin<T>(work: (admin: ReturnType<ReturnType<typeof testKafka>['admin']>) => Promise<T>): Promise<T> {
  const admin = testKafka('strangler-test-topics').admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Records in the topic: the sum of its partitions' high watermarks. */
const recordsIn = (topic: string) => withAdmin(async (admin) => (await admin.fetchTopicOffsets(topic)).reduce((sum, partition) => sum + Number(partition.high), 0));
const partitionsOf = (topic: string) => withAdmin(async (admin) => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length);

async function errorsWithCode(registry: Registry, code: string): Promise<number> {
  const metric = await registry.getSingleMetric('strangler_outbox_publish_errors_total')!.get();
  return metric.values.filter((value) => value.labels.code === code).reduce((sum, value) => sum + value.value, 0);
}

async function writeEvent(db: TestDatabase, aggregateId: string): Promise<void> {
  const client = await db.pool.connect();
  try {
    await appendMany(client, [{ aggregateType: 'Order', aggregateId, type: 'Placed', payload: { aggregateId } }]);
  } finally {
    client.release();
  }
}

describe('topic layout (real Kafka)', () => {
  it('creates missing topics with the declared partitions, replication factor and min.insync.replicas, and leaves existing ones alone', async () => {
    const prefix = `${uniqueName('layout').replace(/_/g, '-')}.`;
    await createTopics([`${prefix}Existing`], 2);
    const layout = { partitions: 6, replicationFactor: 1, minInsyncReplicas: 1 };
    const { created, topics } = await ensureAndDescribeTopics({ brokers: testEnv().kafkaBrokers }, [`${prefix}Existing`, `${prefix}Fresh`], layout);
    expect(created).toEqual([`${prefix}Fresh`]);
    expect(topics.get(`${prefix}Fresh`)).toEqual({ topic: `${prefix}Fresh`, partitions: 6, replicationFactor: 1, minInsyncReplicas: 1 });
    expect(layoutDifferences(topics.get(`${prefix}Existing`)!, layout)).toEqual(['partitions 2, declared 6']);
    expect(await partitionsOf(`${prefix}Existing`)).toBe(2);
  });
});

describe.each([
  ['declared', true],
  ['first seen', false],
] as const)('a relay holds its topics to one partition count (%s)', (_, declared) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createOutboxDatabase(`sfg_outbox_topics_${declared ? 'declared' : 'seen'}`);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('refuses to publish once the partition count changed under it, sends nothing, and resumes when the new count is declared', async () => {
    // A stop while the refused send retries waits stopTimeoutMs for it, then leaves it to the next relay.
    const base = testRelayOptions(db, { kafka: { metadataMaxAgeMs: METADATA_MAX_AGE_MS }, stopTimeoutMs: 1_000 });
    const options: RelayOptions = declared ? parseRelayOptions({ ...base, topics: { partitions: 4 } }) : base;
    const topic = `${options.topicPrefix}Order`;
    let running = await startRelay(options);
    try {
      await writeEvent(db, 'o-1');
      await eventually(async () => (await recordsIn(topic).catch(() => 0)) === 1, 20_000, 'the first event published');
      // Declared: created by the relay with 4 partitions; otherwise auto-created with the broker's default.
      const before = await partitionsOf(topic);
      if (declared) expect(before).toBe(4);
      await withAdmin((admin) => admin.createPartitions({ topicPartitions: [{ topic, count: before + 2 }] }));
      await eventually(async () => (await partitionsOf(topic)) === before + 2, 20_000, 'the new partitions in the metadata');
      // An event sent before the relay's metadata shows the change still goes by the old count (in order); past
      // kafka.metadataMaxAgeMs, the relay sees it.
      await new Promise((resolve) => setTimeout(resolve, 4 * METADATA_MAX_AGE_MS));

      await writeEvent(db, 'o-2');
      await eventually(async () => (await errorsWithCode(running.registry, PARTITIONS_CHANGED)) >= 2, 20_000, 'the relay refusing the changed topic');
      // Refused, not sent: a send after the change would place keys by the new count.
      expect(await recordsIn(topic)).toBe(1);
      await running.relay.stop();

      // The operator accepts the new count (consumers have caught up): declaring it lets the held event through.
      running = await startRelay(parseRelayOptions({ ...options, topics: { partitions: before + 2 } }));
      await eventually(async () => (await recordsIn(topic)) === 2, 20_000, 'the held event published under the new count');
      expect(await errorsWithCode(running.registry, PARTITIONS_CHANGED)).toBe(0);
    } finally {
      await running.relay.stop();
    }
  });
});

describe('strangler topics', () => {
  async function strangler(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const log = jest.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void (out += `${parts.join(' ')}\n`));
    const error = jest.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void (err += `${parts.join(' ')}\n`));
    try {
      return { code: await main(argv), out, err };
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  }

  it('ensure creates, check compares, and a topic that differs exits 1 without being altered', async () => {
    const prefix = `${uniqueName('cli').replace(/_/g, '-')}.`;
    const ensured = await strangler(['topics', 'ensure', 'Order', 'Payment', '--partitions', '6', '--min-insync-replicas', '1', '--topic-prefix', prefix]);
    expect(ensured).toEqual({
      code: 0,
      out: `${prefix}Order  created (partitions 6, replication factor 1, min.insync.replicas 1)\n${prefix}Payment  created (partitions 6, replication factor 1, min.insync.replicas 1)\n`,
      err: '',
    });
    const again = await strangler(['topics', 'ensure', 'Order', '--partitions', '6', '--topic-prefix', prefix]);
    expect(again.out).toBe(`${prefix}Order  ok (partitions 6, replication factor 1, min.insync.replicas 1)\n`);
    const differing = await strangler(['topics', 'check', 'Order', 'Missing', '--partitions', '4', '--topic-prefix', prefix]);
    expect(differing).toEqual({
      code: 1,
      out: `${prefix}Order  DIFFERS: partitions 6, declared 4\n${prefix}Missing  missing\n`,
      err: 'strangler topics: 2 of 2 topics differ from the declared layout; existing topics are never altered\n',
    });
    expect(await partitionsOf(`${prefix}Order`)).toBe(6);
  });

  it('names every problem with its option at once', async () => {
    const result = await strangler(['topics', 'ensure', 'Order', '--partitions', '0', '--replication-factor', '1', '--min-insync-replicas', '2']);
    expect(result.code).toBe(2);
    expect(result.err).toContain("--partitions must be an integer of at least 1, got '0'");
    expect(result.err).toContain('--min-insync-replicas 2 exceeds the replication factor 1');
  });
  it('createTopicsWithLeaders resolves only once every new partition has a leader that takes acks=all writes', async () => {
    const topics = [0, 1].map((index) => `${uniqueName(`leaders-${index}`).replace(/_/g, '-')}`);
    const configs = topics.map((topic) => ({ topic, numPartitions: 6, replicationFactor: 1 }));
    await withAdmin(async (admin) => {
      await expect(createTopicsWithLeaders(admin, configs)).resolves.toBe(true);
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      expect(metadata.map((topic) => topic.partitions.filter((partition) => partition.leader >= 0).length)).toEqual([6, 6]);
      await expect(createTopicsWithLeaders(admin, configs)).resolves.toBe(false);
    });
    const producer = testKafka('strangler-test-leaders').producer();
    await producer.connect();
    try {
      const sent = await producer.sendBatch({
        acks: -1,
        topicMessages: topics.map((topic) => ({ topic, messages: Array.from({ length: 6 }, (_, partition) => ({ partition, value: `p${partition}` })) })),
      });
      expect(sent.filter((result) => result.errorCode === 0)).toHaveLength(12);
    } finally {
      await producer.disconnect();
    }
  });
});
