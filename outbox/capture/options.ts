import { z } from 'zod';

/** Debezium's unavailable.value.placeholder: what a record carries for a TOASTed value an update did not send. */
export const UNAVAILABLE_VALUE_PLACEHOLDER = '__debezium_unavailable_value';

/** `schema.table` or `table` (schema public); names are case-sensitive and taken as they are (no quoting). */
const TABLE_NAME = /^(?:[^."\s][^."]{0,62}\.)?[^."\s][^."]{0,62}$/;

/**
 * Options of the table-capture relay (`mode: 'tables'`), the `capture` key of the relay options. Names follow
 * Debezium's Postgres connector where there is one (topic.prefix, tombstones.on.delete, decimal.handling.mode, ...).
 */
export const captureSchema = z.strictObject({
  /** The tables to capture: `schema.table`, or `table` for the public schema. */
  tables: z
    .array(z.string().regex(TABLE_NAME, "must be 'schema.table' or 'table' (no quotes, dots or surrounding spaces)"))
    .min(1, 'needs at least one table (schema.table)'),
  /** Debezium's topic.prefix: records go to `<topicPrefix>.<schema>.<table>`. Default: the relay's name. */
  topicPrefix: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,200}$/, "may only contain letters, digits, '.', '_', '-'")
    .refine((prefix) => !prefix.endsWith('.'), "is joined to '<schema>.<table>' with a '.': leave the trailing '.' out")
    .optional(),
  /** The `origin` header of a change whose transaction carries no origin mark (markOrigin; markMysqlStatement on MySQL). */
  origin: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, "must be 1-100 of letters, digits, '.', '_', ':', '-'").default('legacy'),
  /** tombstones.on.delete: a delete is followed by a record with the same key and a null value. */
  tombstonesOnDelete: z.boolean().default(true),
  decimalHandlingMode: z.enum(['precise', 'double', 'string']).default('precise'),
  intervalHandlingMode: z.enum(['numeric', 'string']).default('numeric'),
  binaryHandlingMode: z.enum(['bytes', 'base64', 'hex']).default('bytes'),
  unavailableValuePlaceholder: z.string().min(1).max(1000).default(UNAVAILABLE_VALUE_PLACEHOLDER),
  /** MySQL/MariaDB: the compacted Kafka topic that keeps each binlog relay's position (key: the relay's slotName). */
  positionTopic: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a legal Kafka topic name').default('strangler_binlog_positions'),
  /** MySQL/MariaDB: the server id the relay's binlog connection announces (unique among the server's replicas). Default: derived from slotName. */
  serverId: z.number().int().min(1).max(4294967295).optional(),
});

export type CaptureOptionsInput = z.input<typeof captureSchema>;
export type CaptureOptions = z.output<typeof captureSchema> & { topicPrefix: string };

/** A captured table's name in its two parts. */
export interface TableName {
  schema: string;
  table: string;
}

/** `schema.table` -> its parts; `table` -> public. */
export function parseTableName(name: string): TableName {
  const dot = name.indexOf('.');
  return dot < 0 ? { schema: 'public', table: name } : { schema: name.slice(0, dot), table: name.slice(dot + 1) };
}

/**
 * Relay options that mean nothing to a table-capture relay, when set to anything but the value a parse gives them
 * (parsing parsed options again must pass), with what to use instead.
 */
export function notForTables(raw: Record<string, unknown>, topicPrefix: string): { path: string; message: string }[] {
  const refused = (key: string, neutral: unknown, reason: string) =>
    raw[key] !== undefined && raw[key] !== neutral ? [{ path: key, message: `does not apply to mode tables: ${reason}` }] : [];
  const outboxTable = 'names the outbox table of modes cdc and polling: list the tables in capture.tables';
  return [
    ...refused('schema', 'public', outboxTable),
    ...refused('table', 'outbox', outboxTable),
    ...refused('migrate', false, 'mode tables adds nothing to the database but its publication and slot'),
    ...refused('topicPrefix', `${topicPrefix}.`, "use capture.topicPrefix (Debezium's topic.prefix, without the trailing '.')"),
    ...refused('headerPlacement', 'entries', 'captured records carry their own headers (origin, id, type, txid, lsn, commit_lsn)'),
  ];
}
