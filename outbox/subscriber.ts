import { Kafka, logLevel, type Consumer, type EachBatchPayload, type KafkaMessage } from 'kafkajs';
import { installLeanRecordDecoder } from './kafka-record';

/** One record as the inbox reads it: headers are strings, the value is raw bytes. */
export interface ConsumedRecord {
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Records of one partition, in offset order. */
export interface RecordBatch {
  topic: string;
  partition: number;
  highWatermark: string;
  records: ConsumedRecord[];
}

/** What the handler of a batch may call while it works through it. */
export interface BatchControl {
  /** Marks `offset` (and every earlier record of the partition) as processed; committed from there on. */
  markProcessed(offset: string): void;
  /** Keeps the group membership alive during long work. */
  heartbeat(): Promise<void>;
  /** False once the subscriber stops or the partition was reassigned: the handler returns, unmarked records come again. */
  isActive(): boolean;
  /**
   * Optional (a subscriber without it makes its caller work the batch before returning): lets the consumer fetch
   * the partition past this batch at once, while the handler keeps its records and processes them after returning.
   * Nothing of the batch is committed until the answer's markProcessed names it.
   */
  detach?(): DetachedBatch;
}

/** A batch its handler returned from before processing it (BatchControl.detach). */
export interface DetachedBatch {
  /** As BatchControl's: committed from there on; ignored once the group rebalanced since the batch was fetched. */
  markProcessed(offset: string): void;
  /** False once the subscriber stops or the group rebalanced since the batch was fetched: start nothing more of it. */
  isActive(): boolean;
  /** The handler is done with the batch (processed or given up): disconnect() waits for every detached batch. */
  release(): void;
}

export interface SubscribeOptions {
  topics: Array<string | RegExp>;
  fromBeginning: boolean;
  /** Batches of different partitions handled at once (default 1); one partition's batches stay in order. */
  partitionsConsumedConcurrently?: number;
}

/** What the inbox needs from Kafka: a consumer group member. kafkajs stays behind it, as it does behind Publisher. */
export interface Subscriber {
  /** Joins the group and delivers batches until disconnect(); a partition's batches come one at a time, in order. */
  run(options: SubscribeOptions, handler: (batch: RecordBatch, control: BatchControl) => Promise<void>): Promise<void>;
  /** Lets the batch in progress finish, commits what was marked, leaves the group. */
  disconnect(): Promise<void>;
}

export interface KafkaSubscriberOptions {
  brokers: string[];
  clientId: string;
  groupId: string;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /**
   * How often marked offsets are committed (default 250). kafkajs' auto-commit sends one OffsetCommit after every
   * batch, which doubles the round trips of a consumer that keeps up with small batches; the inbox makes a
   * re-delivered record harmless, so committing on an interval costs at most that interval of re-reads after a crash.
   */
  commitIntervalMs?: number;
  /** The longest the broker holds a fetch that has no records yet (default 100). */
  maxWaitTimeInMs?: number;
  /** How long the group waits for a silent member before rebalancing its partitions (default 30000). */
  sessionTimeoutMs?: number;
}

function headerStrings(message: KafkaMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) headers[name] = first.toString();
  }
  return headers;
}

/** The Subscriber on kafkajs: offsets of the records marked processed, committed every `commitIntervalMs` and on disconnect. */
export class KafkaSubscriber implements Subscriber {
  private readonly consumer: Consumer;
  private readonly commitIntervalMs: number;
  /** Next offset to commit per `topic\0partition`, marked since the last commit. */
  private readonly marked = new Map<string, { topic: string; partition: number; offset: string }>();
  private committing: Promise<void> = Promise.resolve();
  private commitTimer: NodeJS.Timeout | undefined;
  private connected = false;
  private stopping = false;
  /** Bumped by every rebalance and join: a detached batch of an earlier generation marks nothing. */
  private generation = 0;
  /** Detached batches not yet released, and what disconnect() waits on for them. */
  private detached = 0;
  private allReleased: (() => void) | undefined;

  constructor(options: KafkaSubscriberOptions) {
    // kafkajs' own record decoder spends a few µs a record in BigInt arithmetic (outbox/kafka-record.ts).
    installLeanRecordDecoder();
    const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
    this.consumer = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: options.connectionTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      logLevel: logLevel.NOTHING,
    }).consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: options.maxWaitTimeInMs ?? 100,
      sessionTimeout,
      // kafkajs's 3 s, or less under a short session: a member misses about three heartbeats before it is dropped.
      heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
    });
    this.commitIntervalMs = options.commitIntervalMs ?? 250;
    const nextGeneration = () => (this.generation += 1);
    this.consumer.on(this.consumer.events.REBALANCING, nextGeneration);
    this.consumer.on(this.consumer.events.GROUP_JOIN, nextGeneration);
  }

  async run(options: SubscribeOptions, handler: (batch: RecordBatch, control: BatchControl) => Promise<void>): Promise<void> {
    this.connected = true;
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning });
    this.commitTimer = setInterval(() => void this.commitMarked(), this.commitIntervalMs);
    this.commitTimer.unref();
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
      eachBatchAutoResolve: false,
      eachBatch: ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
        const mark = (offset: string) => this.marked.set(`${batch.topic}\0${batch.partition}`, { topic: batch.topic, partition: batch.partition, offset: (BigInt(offset) + 1n).toString() });
        return handler(
          {
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: batch.highWatermark,
            records: batch.messages.map((message) => ({ offset: message.offset, key: message.key?.toString() ?? null, value: message.value, headers: headerStrings(message) })),
          },
          {
            markProcessed: (offset) => {
              resolveOffset(offset);
              mark(offset);
            },
            heartbeat,
            isActive: () => isRunning() && !isStale(),
            detach: () => {
              // The next fetch starts past the batch; its offsets are committed only as the handler marks them.
              resolveOffset(batch.lastOffset());
              const generation = this.generation;
              this.detached += 1;
              let released = false;
              return {
                markProcessed: (offset) => {
                  if (generation === this.generation) mark(offset);
                },
                isActive: () => !this.stopping && generation === this.generation,
                release: () => {
                  if (released) return;
                  released = true;
                  this.detached -= 1;
                  if (this.detached === 0) this.allReleased?.();
                },
              };
            },
          },
        );
      },
    });
  }

  /**
   * Commits what was marked since the last commit, one commit at a time. A commit that fails (a rebalance moved
   * the partition: the broker refuses an old generation's commit) is dropped: the records come again, to the inbox.
   */
  private commitMarked(): Promise<void> {
    this.committing = this.committing.then(async () => {
      if (this.marked.size === 0) return;
      const offsets = [...this.marked.values()];
      this.marked.clear();
      await this.consumer.commitOffsets(offsets).catch(() => undefined);
    });
    return this.committing;
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    clearInterval(this.commitTimer);
    this.stopping = true;
    // Detached batches finish what they started and start nothing more; what they marked is committed while the
    // member is still in the group (kafkajs commits nothing once stopped).
    if (this.detached > 0) await new Promise<void>((resolve) => (this.allReleased = resolve));
    await this.commitMarked();
    // stop() lets the batches in progress finish.
    await this.consumer.stop();
    await this.commitMarked();
    await this.consumer.disconnect();
  }
}
