import { Kafka, Partitioners, logLevel, type Producer, type TopicMessages } from 'kafkajs';
import type { Logger } from 'pino';
import { PublishError } from './errors';

export interface PublishRecord {
  topic: string;
  key: string | null;
  value: string | Buffer | null;
  headers: Record<string, string>;
}

/** What relays and the inbox need from Kafka; kafkajs stays behind it. */
export interface Publisher {
  connect(): Promise<void>;
  /**
   * Sends the records with acks=all and resolves when every one is acknowledged. Records of one key keep their
   * order. Rejects with a PublishError (retriable or not) naming the Kafka error code.
   */
  send(records: PublishRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface KafkaPublisherOptions {
  brokers: string[];
  clientId: string;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** kafkajs' own retries inside one send before it rejects (the relay then retries the batch). */
  retries?: number;
}

/** Kafka error types for which no retry can ever succeed for that record. */
const NEVER_ACCEPTED = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_REQUIRED_ACKS',
]);

/**
 * Failures after which kafkajs' idempotent producer keeps a partition sequence number the broker never accepted, so
 * every later send to that partition fails with OUT_OF_ORDER_SEQUENCE_NUMBER: the producer must be replaced (new
 * producer id, sequences from 0), as the Java client does.
 */
const RESETS_PRODUCER = new Set([...NEVER_ACCEPTED, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']);

/** The innermost kafkajs protocol error type (e.g. MESSAGE_TOO_LARGE) of a send failure. */
function kafkaErrorType(error: unknown): string | undefined {
  let current = error as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown[] } | undefined;
  for (let depth = 0; current && depth < 8; depth += 1) {
    if (typeof current.type === 'string') return current.type;
    const nested = current.originalError ?? current.cause ?? current.errors?.[0];
    current = nested as typeof current;
  }
  return undefined;
}

/**
 * kafkajs producer with idempotence (acks=-1 implied), one request in flight per broker so a retried batch can
 * never overtake a later one, and whole arrays of records per request.
 */
export class KafkaPublisher implements Publisher {
  private readonly kafka: Kafka;
  private producer: Producer;
  private connected = false;

  constructor(options: KafkaPublisherOptions, deps: { logger: Logger }) {
    const logger = deps.logger.child({ component: 'kafka-publisher' });
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: options.connectionTimeoutMs ?? 3_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      retry: { retries: options.retries ?? 5, initialRetryTime: 100, maxRetryTime: 2_000 },
      logLevel: logLevel.WARN,
      logCreator: () => ({ namespace, level, log }) => {
        const { message, ...extra } = log;
        // kafkajs logs every failed request at ERROR, retried ones included; the relay reports what it gives up on.
        if (level <= logLevel.ERROR) logger.warn({ namespace, ...extra }, message);
        else logger.debug({ namespace, ...extra }, message);
      },
    });
    this.producer = this.createProducer();
  }

  private createProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  private async resetProducer(): Promise<void> {
    const stale = this.producer;
    this.producer = this.createProducer();
    await stale.disconnect().catch(() => undefined);
    await this.producer.connect();
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    await this.producer.connect();
    this.connected = true;
  }

  async send(records: PublishRecord[]): Promise<void> {
    if (records.length === 0) return;
    const byTopic = new Map<string, TopicMessages>();
    for (const record of records) {
      let entry = byTopic.get(record.topic);
      if (!entry) {
        entry = { topic: record.topic, messages: [] };
        byTopic.set(record.topic, entry);
      }
      entry.messages.push({ key: record.key, value: record.value, headers: record.headers });
    }
    try {
      await this.producer.sendBatch({ topicMessages: [...byTopic.values()], acks: -1 });
    } catch (error) {
      const type = kafkaErrorType(error);
      const retriable = !(type && NEVER_ACCEPTED.has(type));
      // A failed reset leaves the broken producer in place; the caller's retry will try again.
      if (type && RESETS_PRODUCER.has(type)) await this.resetProducer().catch(() => undefined);
      throw new PublishError(`kafka send failed${type ? ` (${type})` : ''}: ${(error as Error).message}`, error, retriable, type);
    }
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect();
  }
}
