import type { ClientBase } from 'pg';
import { findAggregate, isAggregateType, saveAggregate, type AggregateBase, type AggregateOf, type AggregateType } from './aggregates';
import { incomingWinsTie } from './conflicts';

/** What applying one event did: matches the `outcome` label of strangler_sync_events_total. */
export type ApplyOutcome = 'applied' | 'stale' | 'conflict';

export interface ReplicatedEvent {
  aggregateType: string;
  payload: unknown;
  /** Kafka headers; `origin` and `version` are required. */
  headers: Record<string, string>;
}

export class UnsyncableEventError extends Error {
  override readonly name = 'UnsyncableEventError';
  readonly code = 'SFG_CASE_UNSYNCABLE_EVENT';
  readonly retriable = false;
}

function isAggregateState(payload: unknown): payload is AggregateBase {
  const candidate = payload as Partial<AggregateBase> | null;
  return typeof candidate?.id === 'string' && Number.isInteger(candidate.version);
}

/**
 * Applies another side's event to this side's replica, in the caller's transaction and WITHOUT writing an outbox
 * event (that is what stops loops). Version rule: at or below the stored version is stale and skipped, except a
 * tie with a different origin, which is a conflict decided by `incomingWinsTie` (applied when the incoming side
 * wins, skipped otherwise; counted either way).
 */
export async function applyReplicatedEvent(client: ClientBase, event: ReplicatedEvent): Promise<ApplyOutcome> {
  const { aggregateType, payload, headers } = event;
  if (!isAggregateType(aggregateType)) throw new UnsyncableEventError(`unknown aggregate type ${aggregateType}`);
  if (!isAggregateState(payload)) throw new UnsyncableEventError(`${aggregateType} event payload lacks id or version`);
  const origin = headers.origin;
  if (!origin) throw new UnsyncableEventError(`${aggregateType} ${payload.id} event has no origin header`);
  const stored = await findAggregate(client, aggregateType, payload.id, { forUpdate: true });
  if (stored) {
    const storedVersion = stored.entity.version;
    if (payload.version < storedVersion) return 'stale';
    if (payload.version === storedVersion) {
      if (stored.origin === origin) return 'stale';
      if (!incomingWinsTie(aggregateType, stored.origin, origin)) return 'conflict';
      await saveAggregate(client, aggregateType, payload as AggregateOf[AggregateType], origin);
      return 'conflict';
    }
  }
  await saveAggregate(client, aggregateType, payload as AggregateOf[AggregateType], origin);
  return 'applied';
}
