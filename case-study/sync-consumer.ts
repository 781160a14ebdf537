import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { InboxConsumer, type HandlerOutcome, type InboxEvent } from '../outbox';
import { MappingApplier } from '../sync';
import type { AggregateType } from '../legacy-monolith';
import { caseStudyMapping } from './mapping';

export interface SyncConsumerOptions {
  /** This side: `legacy` or a service name. */
  origin: string;
  aggregateTypes: readonly AggregateType[];
  topicPrefix: string;
  groupId: string;
  pool: Pool;
  kafkaBrokers: string[];
  /** Attempts per event, the first included, before it goes to `<topic>.dlq`. */
  maxAttempts?: number;
}

/**
 * Keeps one side's replicas current from the other sides' events: an InboxConsumer (consumer `<origin>-sync`;
 * the inbox row and the replica write commit in one transaction) whose handler is the framework's MappingApplier
 * over case-study/mapping.yaml (version and conflict rules). It never writes an outbox event: that, and the origin
 * check, prevent loops. All sides share the topics `<topicPrefix><aggregatetype>`, so a side also reads its own
 * events back; they are skipped before any transaction (outcome `skipped`).
 */
export class SyncConsumer {
  private readonly inbox: InboxConsumer;
  private applier: MappingApplier | undefined;

  constructor(
    private readonly options: SyncConsumerOptions,
    deps: { logger: Logger; registry: Registry },
  ) {
    this.inbox = new InboxConsumer(
      {
        name: `${options.origin}-sync`,
        groupId: options.groupId,
        topics: options.aggregateTypes.map((aggregateType) => `${options.topicPrefix}${aggregateType}`),
        topicPrefix: options.topicPrefix,
        pool: options.pool,
        kafka: { brokers: options.kafkaBrokers, clientId: `${options.groupId}-${options.origin}` },
        maxAttempts: options.maxAttempts,
        fromBeginning: true,
      },
      {
        logger: deps.logger,
        registry: deps.registry,
        handler: (event, client) => this.handle(event, client),
        skip: (event) => event.headers.origin === options.origin,
      },
    );
  }

  private async handle(event: InboxEvent, client: PoolClient): Promise<HandlerOutcome> {
    const outcome = await this.applier!.apply(client, event);
    return outcome === 'applied' ? undefined : outcome;
  }

  /** Checks the mapping against this side's schema, then consumes. */
  async start(): Promise<void> {
    const { origin, pool } = this.options;
    const mapping = caseStudyMapping();
    const aggregates = this.options.aggregateTypes.map((aggregateType) => mapping.aggregates.get(aggregateType)!);
    this.applier ??= await MappingApplier.open(mapping, origin === 'legacy' ? 'legacy' : 'service', pool, { origin, aggregates });
    await this.inbox.start();
  }

  /** Lets the event in progress finish, commits offsets, disconnects. Idempotent. */
  stop(): Promise<void> {
    return this.inbox.stop();
  }
}
