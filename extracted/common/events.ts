import type { ClientBase } from 'pg';
import { append } from '../../outbox';
import { saveAggregate, type AggregateBase, type AggregateOf, type AggregateType } from './aggregates';

/** Who is writing and on behalf of which request: becomes the event's `origin` and `traceparent` headers. */
export interface WriteContext {
  origin: string;
  traceparent?: string;
}

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
  const headers: Record<string, string> = { origin: context.origin, version: String(entity.version) };
  if (context.traceparent) headers.traceparent = context.traceparent;
  await append(client, { aggregateType, aggregateId: entity.id, type: eventType, payload: entity, headers });
}

/** The next version of an aggregate: same fields merged with `changes`, version + 1, updatedAt = now. */
export function nextVersion<T extends AggregateBase>(current: T, changes: Partial<T>, now: Date = new Date()): T {
  return { ...current, ...changes, version: current.version + 1, updatedAt: now.toISOString() };
}
