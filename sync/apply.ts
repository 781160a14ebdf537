import type { ClientBase } from 'pg';
import { SyncConflictError, UnsyncableEventError } from './errors';
import type { AggregateMapping, Mapping, SideName } from './options';
import type { Queryable, SideStore } from './store';
import { openSide } from './stores';
import type { Document } from './translate';

/** What applying one event did: the `outcome` label of strangler_sync_events_total. */
export type ApplyOutcome = 'applied' | 'stale' | 'conflict';

/** The part of an inbox event the applier reads. */
export interface ReplicatedEvent {
  aggregateType: string;
  payload: unknown;
  /** Kafka headers; `origin` is required. */
  headers: Record<string, string>;
}

/**
 * Applies the other side's events to this side's tables through the mapping, in the caller's transaction and
 * without writing an outbox event (that is what stops loops). An event from the legacy origin carries a legacy
 * document; any other origin, a service document. Version rule: below the stored version is stale; equal is
 * stale from the same origin and a conflict from another, decided by the aggregate's conflict rule.
 */
export class MappingApplier {
  readonly origin: string;

  private constructor(
    private readonly mapping: Mapping,
    readonly side: SideName,
    private readonly stores: Map<string, SideStore>,
    origin: string | undefined,
  ) {
    this.origin = origin ?? mapping.origins[side];
  }

  /**
   * Checks this side's tables against the live schema (every problem at once) and builds the statements.
   * `aggregates` limits it to some of the mapping's aggregates; `origin` overrides the side's origin name.
   */
  static async open(
    mapping: Mapping,
    side: SideName,
    pool: Queryable,
    options: { origin?: string; aggregates?: AggregateMapping[] } = {},
  ): Promise<MappingApplier> {
    return new MappingApplier(mapping, side, await openSide(mapping, side, pool, options.aggregates), options.origin);
  }

  /** The aggregate types this side applies: the topics a sync consumer subscribes to. */
  get aggregateTypes(): string[] {
    return [...this.stores.keys()];
  }

  async apply(client: ClientBase, event: ReplicatedEvent): Promise<ApplyOutcome> {
    const aggregate = this.mapping.aggregates.get(event.aggregateType);
    const store = this.stores.get(event.aggregateType);
    if (!aggregate || !store) throw new UnsyncableEventError(`aggregate type '${event.aggregateType}' is not in the mapping (${this.aggregateTypes.join(', ')})`);
    const origin = event.headers.origin;
    if (!origin) throw new UnsyncableEventError(`${event.aggregateType} event has no origin header`);
    if (origin === this.origin) return 'stale';
    if (!event.payload || typeof event.payload !== 'object' || Array.isArray(event.payload)) throw new UnsyncableEventError(`${event.aggregateType} event payload is not a JSON object`);
    const versionField = store.mapping.versionField;
    if (versionField === undefined) throw new UnsyncableEventError(`${event.aggregateType}: the ${this.side} side is captured; its changes are applied by the captured sync (SyncConsumer), not from versioned events`);
    const document = this.translate(aggregate, origin, event.payload as Document);
    const key = document[store.mapping.keyField];
    const version = Number(document[versionField]);
    if (key === undefined || key === null) throw new UnsyncableEventError(`${event.aggregateType} event lacks its key '${store.mapping.keyField}'`);
    if (!Number.isInteger(version)) throw new UnsyncableEventError(`${event.aggregateType} ${String(key)} event lacks an integer version '${versionField}'`);

    const stored = await store.lock(client, key);
    if (stored) {
      if (version < stored.version) return 'stale';
      if (version === stored.version) {
        if (stored.origin === undefined || stored.origin === origin) return 'stale';
        if (aggregate.conflict === 'dead-letter') {
          throw new SyncConflictError(`${event.aggregateType} ${String(key)} v${version} was written by both ${stored.origin} and ${origin}`);
        }
        if (incomingWinsTie(aggregate, stored.origin, origin, this.mapping.origins.legacy)) await store.write(client, document, origin);
        return 'conflict';
      }
    }
    await store.write(client, document, origin);
    return 'applied';
  }

  private translate(aggregate: AggregateMapping, origin: string, payload: Document): Document {
    const fromLegacy = origin === this.mapping.origins.legacy;
    if (this.side === 'service') return fromLegacy ? aggregate.toService(payload) : payload;
    return fromLegacy ? payload : aggregate.toLegacy(payload);
  }
}

function rank(aggregate: AggregateMapping, origin: string, legacyOrigin: string): number {
  if (origin === aggregate.ownerOrigin) return 2;
  return origin === legacyOrigin ? 0 : 1;
}

/**
 * The `owner-wins` rule for two origins that wrote the same version: the aggregate's owner wins, then any service,
 * then legacy; equal ranks go to the larger origin name. Every side applies it to the same pair and converges.
 */
export function incomingWinsTie(aggregate: AggregateMapping, storedOrigin: string, incomingOrigin: string, legacyOrigin = 'legacy'): boolean {
  const difference = rank(aggregate, incomingOrigin, legacyOrigin) - rank(aggregate, storedOrigin, legacyOrigin);
  return difference !== 0 ? difference > 0 : incomingOrigin > storedOrigin;
}
