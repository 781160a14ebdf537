import { ConfigResourceTypes, Kafka, logLevel, type Admin, type ITopicConfig } from 'kafkajs';
import { kafkaErrorType, TopicLeadersTimeoutError } from './errors';

export const DEFAULT_TOPIC_PREFIX = 'outbox.event.';
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's own rule (kafka.common.internals.Topic): ASCII alphanumerics, '.', '_', '-', at most 249, not '.' or '..'. */
export function isLegalTopic(topic: string): boolean {
  return LEGAL_TOPIC.test(topic) && topic !== '.' && topic !== '..';
}

/** How a topic is laid out: what the relay and `strangler topics ensure` create, and what they hold topics to. */
export interface TopicLayout {
  partitions: number;
  replicationFactor: number;
  /** The topic's min.insync.replicas: with acks=all, a write fails unless this many replicas have it. */
  minInsyncReplicas?: number;
}

/** A topic as the cluster has it. */
export interface TopicDescription {
  topic: string;
  partitions: number;
  replicationFactor: number;
  /** The topic's effective min.insync.replicas (its own setting or the broker's default). */
  minInsyncReplicas: number | undefined;
}

interface KafkaConnection {
  brokers: string[];
  clientId?: string;
  connectionTimeoutMs?: number;
}

async function withAdmin<T>(kafka: KafkaConnection, work: (admin: Admin) => Promise<T>): Promise<T> {
  const client = new Kafka({ clientId: kafka.clientId ?? 'strangler-topics', brokers: kafka.brokers, connectionTimeout: kafka.connectionTimeoutMs, logLevel: logLevel.NOTHING });
  const admin = client.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

async function createMissing(admin: Admin, topics: string[], layout: Partial<TopicLayout>): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = [...new Set(topics)].filter((topic) => !existing.has(topic));
  if (missing.length) {
    const configEntries = layout.minInsyncReplicas === undefined ? undefined : [{ name: 'min.insync.replicas', value: String(layout.minInsyncReplicas) }];
    await createTopicsWithLeaders(
      admin,
      missing.map((topic) => ({ topic, numPartitions: layout.partitions ?? 3, replicationFactor: layout.replicationFactor, configEntries })),
    );
  }
  return missing;
}

/** What a broker answers for a topic whose creation it has not caught up with yet. */
const SETTLING = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Creates the topics (those that exist already are left alone) and resolves once every partition of every one has a
 * leader. A KRaft broker can answer UNKNOWN_TOPIC_OR_PARTITION for a moment after CreateTopics returns, which kafkajs's
 * own `waitForLeaders` gives up on (tulios/kafkajs#1563), so the wait is done here. Resolves to false when every topic
 * existed already.
 */
export async function createTopicsWithLeaders(admin: Admin, topics: ITopicConfig[], timeoutMs = 30_000): Promise<boolean> {
  const created = await admin.createTopics({ topics, waitForLeaders: false });
  const names = [...new Set(topics.map((topic) => topic.topic))];
  const deadline = Date.now() + timeoutMs;
  let waitingFor = 'topic metadata';
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: names });
      const leaderless = metadata.filter((topic) => topic.partitions.length === 0 || topic.partitions.some((partition) => partition.leader < 0));
      if (metadata.length === names.length && leaderless.length === 0) return created;
      waitingFor = `leaders of ${leaderless.map((topic) => topic.name).join(', ') || 'every topic'}`;
    } catch (error) {
      const type = kafkaErrorType(error);
      if (!type || !SETTLING.has(type)) throw error;
      waitingFor = `topic metadata (${type})`;
    }
    if (Date.now() >= deadline) throw new TopicLeadersTimeoutError(names, timeoutMs, waitingFor);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function describe(admin: Admin, topics: string[]): Promise<Map<string, TopicDescription | undefined>> {
  const existing = new Set(await admin.listTopics());
  const present = [...new Set(topics)].filter((topic) => existing.has(topic));
  const described = new Map<string, TopicDescription | undefined>(topics.map((topic) => [topic, undefined]));
  if (present.length === 0) return described;
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics: present });
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['min.insync.replicas'] })),
  });
  const minInsync = new Map(configs.resources.map((resource) => [resource.resourceName, resource.configEntries.find((entry) => entry.configName === 'min.insync.replicas')?.configValue]));
  for (const topic of metadata) {
    const value = minInsync.get(topic.name);
    described.set(topic.name, {
      topic: topic.name,
      partitions: topic.partitions.length,
      replicationFactor: Math.min(...topic.partitions.map((partition) => partition.replicas.length)),
      minInsyncReplicas: value === undefined ? undefined : Number(value),
    });
  }
  return described;
}

/** What differs between a topic and the declared layout, in words (empty when it matches). */
export function layoutDifferences(topic: TopicDescription, layout: Partial<TopicLayout>): string[] {
  const differences: string[] = [];
  if (layout.partitions !== undefined && topic.partitions !== layout.partitions) differences.push(`partitions ${topic.partitions}, declared ${layout.partitions}`);
  if (layout.replicationFactor !== undefined && topic.replicationFactor !== layout.replicationFactor) differences.push(`replication factor ${topic.replicationFactor}, declared ${layout.replicationFactor}`);
  if (layout.minInsyncReplicas !== undefined && topic.minInsyncReplicas !== layout.minInsyncReplicas) differences.push(`min.insync.replicas ${topic.minInsyncReplicas ?? 'unknown'}, declared ${layout.minInsyncReplicas}`);
  return differences;
}

/** Each topic's partitions, replication factor and min.insync.replicas; undefined for a topic that does not exist. */
export function describeTopics(kafka: KafkaConnection, topics: string[]): Promise<Map<string, TopicDescription | undefined>> {
  return withAdmin(kafka, (admin) => describe(admin, topics));
}

/**
 * Creates the topics that do not exist yet (with the layout given; 3 partitions and the broker's replication factor
 * by default) and waits for their leaders, so a consumer can subscribe before the first event is published.
 * Existing topics are left as they are. Resolves to the topics it created.
 */
export function ensureTopics(kafka: KafkaConnection, topics: string[], layout: Partial<TopicLayout> = {}): Promise<string[]> {
  return withAdmin(kafka, (admin) => createMissing(admin, topics, layout));
}

type EnsuredTopics = { created: string[]; topics: Map<string, TopicDescription | undefined> };

/** ensureTopics, then describeTopics, on a connected admin client of yours. */
export async function ensureAndDescribeTopicsWith(admin: Admin, topics: string[], layout: Partial<TopicLayout>): Promise<EnsuredTopics> {
  return { created: await createMissing(admin, topics, layout), topics: await describe(admin, topics) };
}

/** ensureTopics, then describeTopics in the same connection. */
export function ensureAndDescribeTopics(kafka: KafkaConnection, topics: string[], layout: Partial<TopicLayout>): Promise<EnsuredTopics> {
  return withAdmin(kafka, (admin) => ensureAndDescribeTopicsWith(admin, topics, layout));
}
