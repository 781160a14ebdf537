import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { createTopicsWithLeaders } from '../../outbox';
import { testEnv, uniqueName } from './env';

export function testKafka(clientId = 'strangler-test'): Kafka {
  return new Kafka({ clientId, brokers: testEnv().kafkaBrokers, logLevel: logLevel.NOTHING });
}

/** Creates a topic with a unique name and waits until it has a leader. */
export async function createUniqueTopic(prefix = 'sfg-test', partitions = 3): Promise<string> {
  const topic = uniqueName(prefix).replace(/_/g, '-');
  const admin = testKafka('strangler-test-admin').admin();
  await admin.connect();
  try {
    await createTopicsWithLeaders(admin, [{ topic, numPartitions: partitions, replicationFactor: 1 }]);
  } finally {
    await admin.disconnect();
  }
  return topic;
}

export interface CollectedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  /** Kafka's record timestamp (ms since the epoch, as a string): the producer's create time. */
  timestamp: string;
}

export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) result[name] = first.toString();
  }
  return result;
}

/**
 * Reads `topics` from the beginning with a fresh consumer group until `count` records arrived.
 * Rejects after `timeoutMs` with how many came, so a lost record fails the test rather than hanging it.
 */
export async function collectRecords(options: {
  topics: string[] | RegExp;
  count: number;
  timeoutMs?: number;
  /** Wait this long after reaching `count` to catch surplus records (duplicates). */
  settleMs?: number;
  /**
   * Count distinct values of this instead of records, e.g. the event id: after a failover, re-delivered records
   * would otherwise reach `count` before the last events arrived.
   */
  distinctBy?: (record: CollectedRecord) => string;
}): Promise<CollectedRecord[]> {
  const consumer = testKafka('strangler-test-collector').consumer({ groupId: uniqueName('collector'), maxWaitTimeInMs: 100 });
  const records: CollectedRecord[] = [];
  const distinct = new Set<string>();
  await consumer.connect();
  try {
    const topics = Array.isArray(options.topics) ? options.topics : [options.topics];
    await consumer.subscribe({ topics, fromBeginning: true });
    let reached!: () => void;
    const done = new Promise<void>((resolve) => (reached = resolve));
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const record: CollectedRecord = {
            topic: batch.topic,
            partition: batch.partition,
            offset: message.offset,
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
            headers: headersToStrings(message.headers),
            timestamp: message.timestamp,
          };
          records.push(record);
          if (options.distinctBy) distinct.add(options.distinctBy(record));
        }
        if ((options.distinctBy ? distinct.size : records.length) >= options.count) reached();
      },
    });
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`collectRecords: ${options.distinctBy ? `${distinct.size} distinct` : records.length} of ${options.count} records after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (options.settleMs) await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    return records;
  } finally {
    await consumer.disconnect();
  }
}
