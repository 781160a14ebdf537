import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SyncConsumer as MappingSyncConsumer } from '../sync';
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
 * Keeps one side's replicas current from the other sides' events: the framework's SyncConsumer (sync/consumer.ts)
 * over case-study/mapping.yaml, consumer `<origin>-sync` (the inbox row and the replica write commit in one
 * transaction; version and conflict rules from the mapping). All sides share the topics `<topicPrefix><aggregatetype>`,
 * so a side also reads its own events back; the sync consumer skips them before any transaction (outcome `skipped`).
 */
export class SyncConsumer {
  private readonly consumer: MappingSyncConsumer;

  constructor(options: SyncConsumerOptions, deps: { logger: Logger; registry: Registry }) {
    const mapping = caseStudyMapping();
    const into = options.origin === 'legacy' ? 'legacy' : 'service';
    this.consumer = new MappingSyncConsumer(
      {
        mapping,
        into,
        aggregates: options.aggregateTypes.map((aggregateType) => mapping.aggregates.get(aggregateType)!),
        origin: options.origin,
        pools: { [into]: options.pool },
        groupId: options.groupId,
        topicPrefix: options.topicPrefix,
        kafka: { brokers: options.kafkaBrokers, clientId: `${options.groupId}-${options.origin}` },
        maxAttempts: options.maxAttempts,
        fromBeginning: true,
      },
      deps,
    );
  }

  /** Checks the mapping against this side's schema, then consumes. */
  start(): Promise<void> {
    return this.consumer.start();
  }

  /** Lets the event in progress finish, commits offsets, disconnects. Idempotent. */
  stop(): Promise<void> {
    return this.consumer.stop();
  }
}
