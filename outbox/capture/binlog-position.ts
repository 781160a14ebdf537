import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Publisher } from '../publisher';
import { createTopicsWithLeaders } from '../topics';

/** Where a binlog relay resumes: just past the last transaction all of whose records Kafka acknowledged. */
export interface BinlogPosition {
  file: string;
  pos: number;
  /** The last such transaction's GTID, when the server has them (informational: the relay resumes by file and pos). */
  gtid?: string | null;
  /** The server the position is in (server_uuid on MySQL, server_id on MariaDB): another server's position is refused. */
  server: string;
}

export interface PositionStoreOptions {
  brokers: string[];
  clientId: string;
  connectionTimeoutMs?: number;
  /** The compacted topic that keeps the positions, one record per relay (key: the relay's name). */
  topic: string;
  key: string;
}

/**
 * Keeps a binlog relay's position in a compacted Kafka topic, as Kafka Connect keeps Debezium's offsets: nothing is
 * written to the captured database (its user needs only REPLICATION SLAVE, REPLICATION CLIENT and SELECT), every
 * instance of the relay reads the same position whatever host it runs on, and the position is written by the same
 * producer, after the records it covers were acknowledged.
 */
export class KafkaPositionStore {
  private readonly kafka: Kafka;

  constructor(private readonly options: PositionStoreOptions) {
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: options.connectionTimeoutMs ?? 3_000,
      logLevel: logLevel.NOTHING,
    });
  }

  /** Creates the topic (one partition, cleanup.policy=compact) when it is missing. */
  async ensureTopic(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      if (existing.has(this.options.topic)) return;
      await createTopicsWithLeaders(admin, [
        { topic: this.options.topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ]).catch((error: { type?: string }) => {
        if (error.type !== 'TOPIC_ALREADY_EXISTS') throw error;
      });
    } finally {
      await admin.disconnect();
    }
  }

  /** The last position saved under this relay's key, or undefined (never saved, or forgotten). */
  async load(): Promise<BinlogPosition | undefined> {
    const { topic, key } = this.options;
    const admin = this.kafka.admin();
    await admin.connect();
    let high: number;
    let low: number;
    try {
      const [partition] = await admin.fetchTopicOffsets(topic);
      high = Number(partition?.high ?? 0);
      low = Number(partition?.low ?? 0);
    } finally {
      await admin.disconnect();
    }
    if (high <= low) return undefined;
    // A group of its own, never committed: the consumer reads the partition once, from the start to its end.
    const consumer = this.kafka.consumer({ groupId: `strangler-position-reader-${randomUUID()}`, allowAutoTopicCreation: false });
    let last: BinlogPosition | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ message }) => {
              if (message.key?.toString() === key) last = message.value ? (JSON.parse(message.value.toString()) as BinlogPosition) : undefined;
              if (Number(message.offset) >= high - 1) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
    return last;
  }

  /** Saves a position through the relay's producer (acks=all). */
  async save(publisher: Publisher, position: BinlogPosition): Promise<void> {
    await publisher.send([{ topic: this.options.topic, key: this.options.key, value: JSON.stringify(position), headers: {} }]);
  }

  /** Forgets the position (a tombstone): the relay's next start begins at the end of the binlog. */
  async forget(publisher: Publisher): Promise<void> {
    await publisher.send([{ topic: this.options.topic, key: this.options.key, value: null, headers: {} }]);
  }
}
