import { Kafka, Partitioners, logLevel, type Admin, type ICustomPartitioner, type Producer, type TopicMessages } from 'kafkajs';
import type { Logger } from 'pino';
import { kafkaErrorType, PublishError, TopicPartitionsChangedError } from './errors';
import { installLeanRecordEncoder, murmur2 } from './kafka-record';
import { ensureAndDescribeTopicsWith, type TopicLayout } from './topics';

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
  /** How old topic metadata may get (default 30 s): the longest a changed partition count goes unnoticed. */
  metadataMaxAgeMs?: number;
  /**
   * The declared layout of the topics whose names start with `prefix`: the publisher creates a missing one with it
   * before the first send, and refuses to send to one whose partition count is not `layout.partitions`. Without it,
   * topics are auto-created with the broker's defaults. Either way, a topic whose partition count changes while the
   * publisher runs is refused, since keys would move to other partitions and lose their order.
   */
  topics?: { layout: TopicLayout; prefix: string };
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

/**
 * Holds every topic to one partition count: the declared one, else the first one seen. kafkajs calls the partitioner
 * for each record with the partition list it knows, before any request, so a refusal here sends nothing.
 */
class PartitionGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly declared: KafkaPublisherOptions['topics']) {}

  expected(topic: string): number | undefined {
    if (this.declared && topic.startsWith(this.declared.prefix)) return this.declared.layout.partitions;
    return this.seen.get(topic);
  }

  check(topic: string, partitions: number): void {
    const expected = this.expected(topic);
    if (expected === undefined) this.seen.set(topic, partitions);
    else if (partitions !== expected) throw new TopicPartitionsChangedError(topic, expected, partitions);
  }

  /** kafkajs' DefaultPartitioner (Java's murmur2 of the key), with the hash in 32-bit arithmetic for keyed records. */
  partitioner(): ICustomPartitioner {
    return () => {
      const keyless = Partitioners.DefaultPartitioner();
      return (args) => {
        const partitions = args.partitionMetadata.length;
        this.check(args.topic, partitions);
        const { key, partition } = args.message;
        if (partition == null && key != null && partitions > 0) return (murmur2(key) & 0x7fffffff) % partitions;
        return keyless(args);
      };
    };
  }
}

/** The innermost TopicPartitionsChangedError in a kafkajs rejection, if any. */
function partitionsChanged(error: unknown): TopicPartitionsChangedError | undefined {
  let current = error as { cause?: unknown; originalError?: unknown; errors?: unknown[] } | undefined;
  for (let depth = 0; current && depth < 8; depth += 1) {
    if (current instanceof TopicPartitionsChangedError) return current;
    current = (current.originalError ?? current.cause ?? current.errors?.[0]) as typeof current;
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
  private readonly guard: PartitionGuard;
  private readonly declared: KafkaPublisherOptions['topics'];
  /** Topics created or checked against the declared layout. */
  private readonly laidOut = new Set<string>();
  private admin: Admin | undefined;
  private readonly logger: Logger;
  private readonly metadataMaxAgeMs: number;

  constructor(options: KafkaPublisherOptions, deps: { logger: Logger }) {
    // kafkajs' own record encoder costs more CPU than everything else a relay does per event (outbox/kafka-record.ts).
    installLeanRecordEncoder();
    this.declared = options.topics;
    this.metadataMaxAgeMs = options.metadataMaxAgeMs ?? 30_000;
    this.guard = new PartitionGuard(options.topics);
    const logger = deps.logger.child({ component: 'kafka-publisher' });
    this.logger = logger;
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
      allowAutoTopicCreation: this.declared === undefined,
      metadataMaxAge: this.metadataMaxAgeMs,
      createPartitioner: this.guard.partitioner(),
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

  /** Creates the declared topics that are missing and checks the partition count of the others, once per topic. */
  private async layOut(topics: string[]): Promise<void> {
    const fresh = topics.filter((topic) => !this.laidOut.has(topic));
    if (!this.declared || fresh.length === 0) return;
    this.admin ??= this.kafka.admin();
    try {
      await this.admin.connect();
      const { created, topics: described } = await ensureAndDescribeTopicsWith(this.admin, fresh, this.declared.layout);
      if (created.length) this.logger.info({ topics: created, ...this.declared.layout }, 'created topics with the declared layout');
      for (const [topic, description] of described) {
        if (description) this.guard.check(topic, description.partitions);
        this.laidOut.add(topic);
      }
    } catch (error) {
      if (error instanceof TopicPartitionsChangedError) throw new PublishError(error.message, error, true, error.code);
      throw new PublishError(`kafka topic creation failed: ${(error as Error).message}`, error, true, kafkaErrorType(error));
    }
  }

  async send(records: PublishRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.layOut([...new Set(records.map((record) => record.topic))]);
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
      const changed = partitionsChanged(error);
      // Retriable: nothing was sent, and the relay keeps the events until an operator declares the new count.
      if (changed) throw new PublishError(changed.message, changed, true, changed.code);
      const type = kafkaErrorType(error);
      const retriable = !(type && NEVER_ACCEPTED.has(type));
      // A failed reset leaves the broken producer in place; the caller's retry will try again.
      if (type && RESETS_PRODUCER.has(type)) await this.resetProducer().catch(() => undefined);
      throw new PublishError(`kafka send failed${type ? ` (${type})` : ''}: ${(error as Error).message}`, error, retriable, type);
    }
  }

  async disconnect(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect();
  }
}
