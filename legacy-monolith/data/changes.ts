import type { ClientBase } from 'pg';
import { recordEvent, type WriteContext } from '../../service-kit';
import { saveAggregate, type AggregateBase, type AggregateOf, type AggregateType } from './tables';

export type { WriteContext } from '../../service-kit';

/**
 * Saves the new state of an aggregate and appends its domain event to the outbox in the caller's transaction.
 * The payload is the full aggregate state, so a consumer can upsert it.
 */
export async function recordChange<T extends AggregateType>(
  client: ClientBase,
  aggregateType: T,
  entity: AggregateOf[T],
  eventType: string,
  context: WriteContext,
): Promise<void> {
  await saveAggregate(client, aggregateType, entity, context.origin);
  await recordEvent(client, { aggregateType, aggregateId: entity.id, type: eventType, version: entity.version, payload: entity }, context);
}

/** The next version of an aggregate: same fields merged with `changes`, version + 1, updatedAt = now. */
export function nextVersion<T extends AggregateBase>(current: T, changes: Partial<T>, now: Date = new Date()): T {
  return { ...current, ...changes, version: current.version + 1, updatedAt: now.toISOString() };
}
