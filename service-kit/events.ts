import type { ClientBase } from 'pg';
import { append, formatWritten } from '../outbox';

/** Who is writing and on behalf of which request: becomes the event's `origin` and `traceparent` headers. */
export interface WriteContext {
  origin: string;
  traceparent?: string;
  /** Told each event appended (as a `strangler-written` entry), for the response to list what the write wrote. */
  recordWritten?: (entries: string[]) => void;
}

export interface DomainEvent {
  aggregateType: string;
  aggregateId: string;
  /** `ProductCreated`, `OrderCancelled`, ... */
  type: string;
  /** The aggregate's version after this change: the sync consumers' ordering and staleness rule. */
  version: number;
  /** The aggregate's full state as this side models it, so a consumer can upsert it. */
  payload: object;
}

/** Appends a domain event to this process's outbox in the caller's transaction. */
export async function recordEvent(client: ClientBase, event: DomainEvent, context: WriteContext): Promise<void> {
  const headers: Record<string, string> = { origin: context.origin, version: String(event.version) };
  if (context.traceparent) headers.traceparent = context.traceparent;
  const id = await append(client, { aggregateType: event.aggregateType, aggregateId: event.aggregateId, type: event.type, payload: event.payload, headers });
  context.recordWritten?.([formatWritten(event.aggregateType, id, context.origin)]);
}
