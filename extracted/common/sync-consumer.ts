import { Kafka, logLevel, type Consumer, type EachMessagePayload, type IHeaders, type Producer } from 'kafkajs';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createInboxMetrics } from '../../outbox';
import type { AggregateType } from './aggregates';
import { withTransaction } from './db';
import { applyReplicatedEvent, UnsyncableEventError, type ApplyOutcome } from './sync';

export interface SyncConsumerOptions {
  /** This side: `legacy` or a service name. Events with this origin are its own and are skipped. */
  origin: string;
  aggregateTypes: readonly AggregateType[];
  topicPrefix: string;
  groupId: string;
  pool: Pool;
  kafkaBrokers: string[];
  /** Attempts per event, the first included, before it goes to `<topic>.dlq`. */
  maxAttempts?: number;
  retryBackoffMs?: number;
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) result[name] = first.toString();
  }
  return result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Keeps one side's replicas current from the other sides' events. Per event, in ONE transaction: record the
 * event id in the inbox table (`outbox/` migration 002_inbox; a known id is a duplicate) and apply the version and
 * conflict rules. It never writes an outbox event, and it skips events of its own origin: together that prevents
 * loops. Failures are retried with backoff; a non-retriable or exhausted event goes to `<topic>.dlq` so one
 * poison event cannot stop sync. Metrics: strangler_sync_events_total and strangler_sync_consumer_lag_messages
 * (from outbox's createInboxMetrics), consumer label `<origin>-sync`.
 *
 * Stand-in: the brief's `InboxConsumer` from outbox/ had not landed when the case study needed it; this class has
 * the same contract (inbox table, outcomes, metric names), so it can delegate to InboxConsumer once that exists.
 */
export class SyncConsumer {
  readonly name: string;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly metrics;
  private readonly logger: Logger;
  private readonly lagByPartition = new Map<string, Map<number, number>>();
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly options: SyncConsumerOptions,
    deps: { logger: Logger; registry: Registry },
  ) {
    this.name = `${options.origin}-sync`;
    this.logger = deps.logger.child({ component: 'sync-consumer', consumer: this.name });
    this.metrics = createInboxMetrics(deps.registry, this.name);
    const kafka = new Kafka({ clientId: this.name, brokers: options.kafkaBrokers, logLevel: logLevel.NOTHING });
    this.consumer = kafka.consumer({ groupId: options.groupId, maxWaitTimeInMs: 250 });
    this.producer = kafka.producer();
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const partitions = this.lagByPartition.get(payload.topic) ?? new Map<number, number>();
      partitions.set(payload.partition, Number(payload.offsetLag));
      this.lagByPartition.set(payload.topic, partitions);
      this.metrics.lag(payload.topic, [...partitions.values()].reduce((sum, lag) => sum + lag, 0));
    });
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.options.aggregateTypes.map((type) => `${this.options.topicPrefix}${type}`), fromBeginning: true });
    await this.consumer.run({ eachMessage: (payload) => this.process(payload) });
  }

  private async process({ topic, partition, message }: EachMessagePayload): Promise<void> {
    const headers = headersToStrings(message.headers);
    if (headers.origin === this.options.origin) return;
    const aggregateType = topic.slice(this.options.topicPrefix.length);
    const eventId = headers.id;
    const maxAttempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const outcome = await withTransaction(this.options.pool, async (client): Promise<ApplyOutcome | 'duplicate'> => {
          if (!eventId) throw new UnsyncableEventError(`event at ${topic}/${partition}/${message.offset} has no id header`);
          const recorded = await client.query('insert into inbox (consumer, event_id) values ($1, $2) on conflict do nothing', [this.name, eventId]);
          if (recorded.rowCount === 0) return 'duplicate';
          const payload: unknown = message.value ? JSON.parse(message.value.toString()) : null;
          return applyReplicatedEvent(client, { aggregateType, payload, headers });
        });
        this.metrics.outcome(aggregateType, outcome);
        return;
      } catch (error) {
        const retriable = !(error instanceof UnsyncableEventError) && !(error instanceof SyntaxError);
        if (retriable && attempt < maxAttempts) {
          this.metrics.outcome(aggregateType, 'retried');
          this.logger.debug({ err: error, eventId, attempt }, 'sync apply failed, retrying');
          await sleep((this.options.retryBackoffMs ?? 200) * 2 ** (attempt - 1));
          continue;
        }
        this.logger.warn({ err: error, eventId, topic, partition, offset: message.offset }, 'sync event sent to the DLQ');
        await this.producer.send({
          topic: `${topic}.dlq`,
          messages: [{ key: message.key, value: message.value, headers: { ...message.headers, error: String((error as Error).message ?? error) } }],
        });
        this.metrics.outcome(aggregateType, 'dlq');
        return;
      }
    }
  }

  /** Lets the event in progress finish, commits offsets, disconnects. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.consumer.disconnect();
      await this.producer.disconnect();
    })();
    return this.stopping;
  }
}
