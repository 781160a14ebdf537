import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { captureEventId, InboxConsumer, migrateOutbox, type ConsumedRecord, type HandlerOutcome, type InboxEvent, type Subscriber } from '../outbox';
import { MappingApplier } from './apply';
import {
  aggregateKeysOf,
  capturedRoutes,
  CapturedSync,
  emitOriginMessage,
  type CapturedTable,
  type KeyOutcome,
  type MarkOrigin,
} from './captured';
import { SyncError, UnsyncableEventError } from './errors';
import { legacyAccess, type LegacyAccess } from './legacy-access';
import { createConflictCounter } from './metrics';
import type { AggregateMapping, Mapping, SideName } from './options';
import { MySqlDatabase } from './mysql-store';
import type { MigrationStores } from './side';
import { ensureSyncTables } from './state';
import { openAggregates } from './stores';
import type { Document } from './translate';

export interface SyncConsumerOptions {
  mapping: Mapping;
  /** The side whose tables the events are applied to. */
  into: SideName;
  /** Default: every aggregate of the mapping. */
  aggregates?: AggregateMapping[];
  /** This side's origin name (default: the mapping's origins.<into>); events with this origin are skipped. */
  origin?: string;
  /**
   * The databases. The side written into is required; both are when an aggregate's legacy side is captured (the
   * service database holds the inbox and the sync state, the legacy one is read through or written back). A legacy
   * in MySQL/MariaDB (a MySqlDatabase) is for captured aggregates only.
   */
  pools: { legacy?: Pool | MySqlDatabase; service?: Pool };
  /** Kafka consumer group (default `strangler-sync-<origin>`). */
  groupId?: string;
  /** The inbox's consumer name (default `<origin>-sync`). */
  name?: string;
  /** Prefix of the outbox topics `<topicPrefix><aggregatetype>`. */
  topicPrefix: string;
  kafka: { brokers: string[]; clientId?: string; sessionTimeoutMs?: number };
  maxAttempts?: number;
  maxBatchEvents?: number;
  partitionsConsumedConcurrently?: number;
  fromBeginning?: boolean;
  retryBackoffMs?: number;
  /** Create the inbox table (migrateOutbox) in the database that holds each inbox. */
  migrate?: boolean;
}

export interface SyncConsumerDeps {
  logger: Logger;
  registry: Registry;
  /** Marks a legacy write-back transaction with its origin; default: pg_logical_emit_message(true, 'strangler.origin', origin). */
  markOrigin?: MarkOrigin;
  /** Consumer group members for tests (one per inbox, in the order they are created). */
  subscribers?: Subscriber[];
}

/** A sha1 name-based UUID (version 5 layout) of `name`: the id of a tombstone, which carries no envelope. */
function nameUuid(name: string): string {
  const bytes = createHash('sha1').update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

interface InboxPlan {
  /** Which database holds the inbox (and, for captured aggregates, the state). */
  database: SideName;
  direct: AggregateMapping[];
  captured: AggregateMapping[];
}

const RANK: Record<KeyOutcome, number> = { stale: 0, applied: 1, conflict: 2 };

/**
 * The sync consumer: keeps one side's tables current from the other side's changes, through the mapping, for the
 * CLI (`strangler sync`) and the case study alike. Per aggregate it picks the applier:
 * - versioned on both sides: the other side's outbox events, applied by MappingApplier in the inbox's transaction;
 * - legacy captured, into the service: legacy's captured row changes (`<capture.topicPrefix>.<schema>.<table>` of
 *   the main and joined tables), applied read-through in batches (CapturedSync.applyFromLegacy);
 * - legacy captured, into legacy: the service's outbox events, written back into legacy's tables in transactions
 *   marked with the service's origin (CapturedSync.applyFromService); the inbox and the state are in the service database.
 * Events this side wrote (origin = this side's origin: its own events read back, or its write-backs captured) and
 * tombstones are skipped before any transaction. It never writes an outbox event: that is what stops loops.
 */
export class SyncConsumer {
  private readonly inboxes: InboxConsumer[] = [];
  private readonly origin: string;
  private readonly plans: InboxPlan[];
  private routes = new Map<string, CapturedTable[]>();
  private captured: CapturedSync | undefined;
  private applier: MappingApplier | undefined;
  private legacy: LegacyAccess | undefined;
  private storesByAggregate = new Map<string, MigrationStores>();
  private started = false;
  private opening: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly options: SyncConsumerOptions,
    private readonly deps: SyncConsumerDeps,
  ) {
    const { mapping, into } = options;
    this.origin = options.origin ?? mapping.origins[into];
    const aggregates = options.aggregates ?? [...mapping.aggregates.values()];
    const captured = aggregates.filter((aggregate) => aggregate.legacy.captured);
    const direct = aggregates.filter((aggregate) => !aggregate.legacy.captured);
    if (captured.length) {
      const missing = (['legacy', 'service'] as const).filter((side) => !options.pools[side]);
      if (missing.length) {
        throw new SyncError(
          'SFG_SYNC_DATABASE_MISSING',
          `the legacy side of ${captured.map((aggregate) => aggregate.aggregateType).join(', ')} is captured: the sync needs both databases (the service's holds the inbox and the sync state); missing: ${missing.join(', ')}`,
        );
      }
    } else if (!options.pools[into]) {
      throw new SyncError('SFG_SYNC_DATABASE_MISSING', `syncing into ${into} needs the ${into} database`);
    }
    if (direct.length && options.pools.legacy instanceof MySqlDatabase) {
      throw new SyncError(
        'SFG_SYNC_UNSUPPORTED',
        `the legacy database is MySQL/MariaDB: its aggregates must be captured (captured: true); ${direct.map((aggregate) => aggregate.aggregateType).join(', ')} ${direct.length === 1 ? 'is' : 'are'} not`,
      );
    }
    this.plans =
      into === 'service'
        ? [{ database: 'service', direct, captured }]
        : [...(direct.length ? [{ database: 'legacy' as const, direct, captured: [] }] : []), ...(captured.length ? [{ database: 'service' as const, direct: [], captured }] : [])];
  }

  /** Every topic consumed: outbox topics and captured tables' topics (the captured ones once open() resolved). */
  get topics(): string[] {
    return this.plans.flatMap((plan) => this.topicsOf(plan));
  }

  private topicsOf(plan: InboxPlan): string[] {
    const outbox = [...plan.direct, ...(this.options.into === 'legacy' ? plan.captured : [])].map((aggregate) => `${this.options.topicPrefix}${aggregate.aggregateType}`);
    const captured = this.options.into === 'service' ? [...this.routes.keys()] : [];
    return [...outbox, ...captured];
  }

  /**
   * Checks the mapping against the live schemas (every problem at once) and creates the sync state tables; after it,
   * `topics` names every topic consumed. start() calls it when it was not called.
   */
  open(): Promise<void> {
    this.opening ??= this.openOnce();
    return this.opening;
  }

  private async openOnce(): Promise<void> {
    const { mapping, into, pools } = this.options;
    const direct = this.plans.flatMap((plan) => plan.direct);
    const captured = this.plans.flatMap((plan) => plan.captured);
    if (direct.length) this.applier = await MappingApplier.open(mapping, into, pools[into] as Pool, { origin: this.origin, aggregates: direct });
    if (captured.length) {
      const stores = await openAggregates(mapping, captured, { legacy: pools.legacy!, service: pools.service! });
      for (const entry of stores) this.storesByAggregate.set(entry.mapping.aggregateType, entry);
      const legacy = legacyAccess(pools.legacy!, stores, this.deps.markOrigin ?? emitOriginMessage);
      this.legacy = legacy;
      this.routes = capturedRoutes(mapping, stores, (table) => legacy.capturedName(table));
      await ensureSyncTables(pools.service!);
      this.captured = new CapturedSync(mapping.origins, stores, { legacy, conflicts: createConflictCounter(this.deps.registry) });
    }
  }

  /** open(), then consumes. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.open();
    const { pools } = this.options;
    const groupId = this.options.groupId ?? `strangler-sync-${this.origin}`;
    for (const [index, plan] of this.plans.entries()) {
      const pool = pools[plan.database] as Pool;
      if (this.options.migrate) await migrateOutbox(pool);
      const topics = this.topicsOf(plan);
      const capturedInbox = plan.captured.length > 0;
      const skip = (event: InboxEvent) => event.headers.origin === this.origin || (this.routes.has(event.topic) && event.payload === null);
      const common = {
        logger: this.deps.logger,
        registry: this.deps.registry,
        subscriber: this.deps.subscribers?.[index],
        skip,
        ...(this.routes.size
          ? {
              eventId: (record: ConsumedRecord, payload: unknown, topic: string, partition: number) => this.eventId(record, payload, topic, partition),
              aggregateType: (topic: string) => this.routes.get(topic)?.[0]?.aggregate,
            }
          : {}),
      };
      this.inboxes.push(
        new InboxConsumer(
          {
            name: this.options.name ?? `${this.origin}-sync`,
            groupId: index === 0 ? groupId : `${groupId}-captured`,
            topics,
            topicPrefix: this.options.topicPrefix,
            pool,
            kafka: { brokers: this.options.kafka.brokers, clientId: this.options.kafka.clientId ?? groupId, ...(this.options.kafka.sessionTimeoutMs ? { sessionTimeoutMs: this.options.kafka.sessionTimeoutMs } : {}) },
            maxAttempts: this.options.maxAttempts,
            maxBatchEvents: this.options.maxBatchEvents,
            partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
            retryBackoffMs: this.options.retryBackoffMs,
            fromBeginning: this.options.fromBeginning ?? true,
            // A captured change is applied read-through (legacy's current document, hashes against the sync state): a
            // redelivery finds the service up to date (stale), so it needs no inbox row.
            unclaimedTopics: topics.filter((topic) => this.routes.has(topic)),
            // Read-through makes the order between partitions irrelevant: what one fetch brought of every captured
            // table is applied together, so one order's changes (its lines are on every partition) are one key of one
            // chunk instead of keys of several chunks waiting on each other's locks.
            coalescedTopics: topics.filter((topic) => this.routes.has(topic)),
          },
          capturedInbox
            ? { ...common, batchHandler: (events, client) => this.applyBatch(events, client) }
            : { ...common, handler: (event, client) => this.applyDirect(event, client) },
        ),
      );
    }
    for (const inbox of this.inboxes) await inbox.start();
  }

  /** Lets the events in progress finish, commits offsets, disconnects. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const inbox of [...this.inboxes].reverse()) await inbox.stop();
    })();
    return this.stopping;
  }

  private eventId(record: ConsumedRecord, payload: unknown, topic: string, partition: number): string | undefined {
    if (!this.routes.has(topic)) return undefined;
    if (payload === null) return nameUuid(`tombstone/${topic}/${partition}/${record.offset}`);
    const source = (payload as { source?: Record<string, unknown> }).source;
    const op = (payload as { op?: unknown }).op;
    if (!source || typeof op !== 'string') return undefined;
    // Debezium's records carry no id header: the capture relay's derivation (db / lsn / schema.table / op / key) gives
    // the same id on a re-send. A MySQL record has no lsn and no schema: its binlog file, position and row instead.
    const lsn = (source.lsn ?? `${String(source.file)}:${String(source.pos)}:${String(source.row ?? 0)}`) as string | number;
    return captureEventId({ db: String(source.db), lsn, schema: String(source.schema ?? source.db), table: String(source.table), op, key: record.key ?? '' });
  }

  private async applyDirect(event: InboxEvent, client: PoolClient): Promise<HandlerOutcome> {
    const outcome = await this.applier!.apply(client, event);
    return outcome === 'applied' ? undefined : outcome;
  }

  /**
   * A chunk: captured row changes (of every partition of the captured topics that one fetch brought), or the outbox
   * events of one partition (of captured or versioned aggregates).
   */
  private async applyBatch(events: InboxEvent[], client: PoolClient): Promise<HandlerOutcome[]> {
    if (this.routes.has(events[0]!.topic)) return this.applyCaptured(events, client);
    if (this.captured?.has(events[0]!.aggregateType)) return this.applyWriteBacks(events, client);
    const outcomes: HandlerOutcome[] = [];
    for (const event of events) outcomes.push(await this.applyDirect(event, client));
    return outcomes;
  }

  /** Legacy's captured changes -> the service: the aggregate keys they name, deduplicated, brought up to date read-through. */
  private async applyCaptured(events: InboxEvent[], client: PoolClient): Promise<HandlerOutcome[]> {
    const named = events.map((event) => {
      const routes = this.routes.get(event.topic);
      if (!routes) throw new UnsyncableEventError(`topic ${event.topic} is not a captured table of the mapping`);
      return routes.flatMap((route) => aggregateKeysOf(event.payload, route).map((key) => ({ aggregate: route.aggregate, key })));
    });
    // The legacy read must see the transactions of these changes (Debezium's source.txId): see readSnapshot.
    const visibleTransactions = [...new Set(events.map((event) => (event.payload as { source?: { txId?: unknown } } | null)?.source?.txId).filter((id): id is number => typeof id === 'number'))];
    const raw = new Map<string, Set<string>>();
    for (const keys of named) for (const { aggregate, key } of keys) raw.set(aggregate, (raw.get(aggregate) ?? new Set()).add(key));
    const outcomes = new Map<string, KeyOutcome>();
    const canonical = new Map<string, Map<string, string>>();
    for (const aggregate of [...raw.keys()].sort()) {
      const forms = await this.legacy!.canonicalKeys(client, aggregate, raw.get(aggregate)!);
      canonical.set(aggregate, forms);
      const keys = [...new Set(forms.values())].sort();
      for (const [key, outcome] of await this.captured!.applyFromLegacy(client, aggregate, keys, { visibleTransactions })) outcomes.set(`${aggregate}\u0000${key}`, outcome);
    }
    return this.perEvent(named.map((keys) => keys.map(({ aggregate, key }) => `${aggregate}\u0000${canonical.get(aggregate)!.get(key)!}`)), outcomes);
  }

  /** The service's outbox events -> captured legacy tables. A null payload with a `version` header is a delete. */
  private async applyWriteBacks(events: InboxEvent[], client: PoolClient): Promise<HandlerOutcome[]> {
    const parsed: Array<{ aggregate: string; key: string; version: number; document: Document | null } | undefined> = events.map((event) => {
      const stores = this.storesByAggregate.get(event.aggregateType);
      if (!stores) throw new UnsyncableEventError(`aggregate type '${event.aggregateType}' is not in the mapping`);
      const origin = event.headers.origin;
      if (!origin) throw new UnsyncableEventError(`${event.aggregateType} event has no origin header`);
      if (origin === this.options.mapping.origins.legacy) return undefined;
      const { service } = stores;
      if (event.payload === null) {
        const version = Number(event.headers.version);
        if (!event.aggregateId || !Number.isInteger(version)) throw new UnsyncableEventError(`${event.aggregateType} delete (null payload) needs its key and an integer 'version' header`);
        return { aggregate: event.aggregateType, key: event.aggregateId, version, document: null };
      }
      if (typeof event.payload !== 'object' || Array.isArray(event.payload)) throw new UnsyncableEventError(`${event.aggregateType} event payload is not a JSON object`);
      const document = event.payload as Document;
      const key = document[service.mapping.keyField];
      const version = Number(document[service.mapping.versionField!]);
      if (key === undefined || key === null) throw new UnsyncableEventError(`${event.aggregateType} event lacks its key '${service.mapping.keyField}'`);
      if (!Number.isInteger(version)) throw new UnsyncableEventError(`${event.aggregateType} ${String(key)} event lacks an integer version '${service.mapping.versionField}'`);
      return { aggregate: event.aggregateType, key: service.keyOf(document), version, document };
    });
    const byAggregate = new Map<string, Set<string>>();
    for (const event of parsed) if (event) byAggregate.set(event.aggregate, (byAggregate.get(event.aggregate) ?? new Set()).add(event.key));
    const canonical = new Map<string, Map<string, string>>();
    for (const [aggregate, keys] of byAggregate) canonical.set(aggregate, await this.legacy!.canonicalKeys(client, aggregate, keys));
    const work = parsed.flatMap((event) => (event ? [{ ...event, key: canonical.get(event.aggregate)!.get(event.key)! }] : []));
    const outcomes = await this.captured!.applyFromService(client, work);
    // Per key, the newest version carries the outcome; older events of the key in the chunk were superseded.
    const newest = new Map<string, number>();
    for (const event of work) newest.set(`${event.aggregate}\u0000${event.key}`, Math.max(newest.get(`${event.aggregate}\u0000${event.key}`) ?? -Infinity, event.version));
    const claimed = new Set<string>();
    return parsed.map((event) => {
      if (!event) return 'stale';
      const id = `${event.aggregate}\u0000${canonical.get(event.aggregate)!.get(event.key)!}`;
      if (event.version !== newest.get(id) || claimed.has(id)) return 'stale';
      claimed.add(id);
      return toHandlerOutcome(outcomes.get(id) ?? 'stale');
    });
  }

  /** The last event naming a key carries the key's outcome; earlier ones in the chunk were folded into it (stale). */
  private perEvent(eventKeys: string[][], outcomes: Map<string, KeyOutcome>): HandlerOutcome[] {
    const last = new Map<string, number>();
    eventKeys.forEach((keys, index) => keys.forEach((key) => last.set(key, index)));
    return eventKeys.map((keys, index) => {
      let best: KeyOutcome = 'stale';
      for (const key of keys) {
        if (last.get(key) !== index) continue;
        const outcome = outcomes.get(key) ?? 'stale';
        if (RANK[outcome] > RANK[best]) best = outcome;
      }
      return toHandlerOutcome(best);
    });
  }
}

function toHandlerOutcome(outcome: KeyOutcome): HandlerOutcome {
  return outcome === 'applied' ? undefined : outcome;
}
