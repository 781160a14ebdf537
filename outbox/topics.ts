import { Kafka, logLevel } from 'kafkajs';

export const DEFAULT_TOPIC_PREFIX = 'outbox.event.';
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's own rule (kafka.common.internals.Topic): ASCII alphanumerics, '.', '_', '-', at most 249, not '.' or '..'. */
export function isLegalTopic(topic: string): boolean {
  return LEGAL_TOPIC.test(topic) && topic !== '.' && topic !== '..';
}

/**
 * Creates the topics that do not exist yet and waits for their leaders, so a consumer can subscribe before the
 * first event is published. Existing topics are left as they are.
 */
export async function ensureTopics(
  kafka: { brokers: string[]; clientId?: string; connectionTimeoutMs?: number },
  topics: string[],
  options: { partitions?: number } = {},
): Promise<string[]> {
  const client = new Kafka({ clientId: kafka.clientId ?? 'strangler-topics', brokers: kafka.brokers, connectionTimeout: kafka.connectionTimeoutMs, logLevel: logLevel.NOTHING });
  const admin = client.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length) {
      await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: options.partitions ?? 3 })), waitForLeaders: true });
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}
