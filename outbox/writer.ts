import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { InvalidEventError } from './errors';
import { qualified } from './sql';
import { DEFAULT_TOPIC_PREFIX, isLegalTopic } from './topics';

export interface OutboxEvent {
  /** Becomes the topic suffix: `outbox.event.<aggregateType>`. */
  aggregateType: string;
  /** Becomes the Kafka key, so one aggregate's events stay in one partition, in order. */
  aggregateId: string;
  type: string;
  /** Any JSON-serialisable value; becomes the record value. */
  payload: unknown;
  /** Extra Kafka headers (origin, version, traceparent, ...). `id` and `type` are set by the relay. */
  headers?: Record<string, string>;
}

export interface AppendOptions {
  /** Default `public`. */
  schema?: string;
  /** Default `outbox`. */
  table?: string;
  /** Debezium's insert-then-delete mode: the row is deleted in the same transaction; only the WAL keeps it (CDC only). */
  deleteAfterInsert?: boolean;
  /** Used to check that aggregate types form legal topic names. Default `outbox.event.`. */
  topicPrefix?: string;
}

const MAX_VARCHAR = 255;
const RESERVED_HEADERS = new Set(['id', 'type']);

interface OutboxRow {
  id: string;
  aggregatetype: string;
  aggregateid: string;
  type: string;
  payload: string | null;
  headers: string;
}

function requireText(value: unknown, field: string, index: number | undefined): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidEventError(field, 'must be a non-empty string', index);
  if (value.length > MAX_VARCHAR) throw new InvalidEventError(field, `must be at most ${MAX_VARCHAR} characters`, index);
  return value;
}

function serialisePayload(payload: unknown, index: number | undefined): string | null {
  if (payload === null) return null;
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch (error) {
    throw new InvalidEventError('payload', `is not JSON-serialisable (${(error as Error).message})`, index);
  }
  if (json === undefined) throw new InvalidEventError('payload', 'is not JSON-serialisable', index);
  return json;
}

function serialiseHeaders(headers: unknown, index: number | undefined): string {
  if (headers === undefined) return '{}';
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new InvalidEventError('headers', 'must be an object of string values', index);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!name) throw new InvalidEventError('headers', 'header names must be non-empty', index);
    if (RESERVED_HEADERS.has(name)) throw new InvalidEventError(`headers.${name}`, 'is reserved: the relay sets it', index);
    if (typeof value !== 'string') throw new InvalidEventError(`headers.${name}`, 'must be a string', index);
  }
  return JSON.stringify(headers);
}

function toRow(event: OutboxEvent, topicPrefix: string, index?: number): OutboxRow {
  if (typeof event !== 'object' || event === null) throw new InvalidEventError('event', 'must be an object', index);
  const aggregatetype = requireText(event.aggregateType, 'aggregateType', index);
  if (!isLegalTopic(topicPrefix + aggregatetype)) {
    throw new InvalidEventError(
      'aggregateType',
      `"${aggregatetype}" cannot form a legal Kafka topic name with prefix "${topicPrefix}" (letters, digits, '.', '_', '-'; ≤ 249 in total)`,
      index,
    );
  }
  return {
    id: randomUUID(),
    aggregatetype,
    aggregateid: requireText(event.aggregateId, 'aggregateId', index),
    type: requireText(event.type, 'type', index),
    payload: serialisePayload(event.payload, index),
    headers: serialiseHeaders(event.headers, index),
  };
}

/** Writes one event inside the caller's transaction, on the caller's client. Returns the event id. */
export async function append(client: pg.ClientBase, event: OutboxEvent, options: AppendOptions = {}): Promise<string> {
  const [id] = await appendMany(client, [event], options);
  return id!;
}

/**
 * Writes events, in order, with one statement, inside the caller's transaction. Every event is validated first,
 * so an invalid one means nothing is written. Returns the ids in input order.
 */
export async function appendMany(client: pg.ClientBase, events: OutboxEvent[], options: AppendOptions = {}): Promise<string[]> {
  const topicPrefix = options.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
  const rows = events.map((event, index) => toRow(event, topicPrefix, events.length === 1 ? undefined : index));
  if (rows.length === 0) return [];
  const table = qualified(options.schema ?? 'public', options.table ?? 'outbox');
  const ids = rows.map((row) => row.id);
  await client.query(
    `insert into ${table} (id, aggregatetype, aggregateid, type, payload, headers)
     select * from unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::varchar[], $5::jsonb[], $6::jsonb[])`,
    [
      ids,
      rows.map((row) => row.aggregatetype),
      rows.map((row) => row.aggregateid),
      rows.map((row) => row.type),
      rows.map((row) => row.payload),
      rows.map((row) => row.headers),
    ],
  );
  if (options.deleteAfterInsert) await client.query(`delete from ${table} where id = any($1::uuid[])`, [ids]);
  return ids;
}
