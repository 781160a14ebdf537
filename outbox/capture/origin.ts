import { OutboxError } from '../errors';
import type { MysqlQueryable } from './binlog-preflight';
import { ORIGIN_MESSAGE_PREFIX } from './decoder';
import type { Queryable } from './preflight';

/**
 * Marks the current transaction as written by `origin`: the table-capture relay tags every change of the
 * transaction with it (the `origin` header) instead of its default. Call it inside the transaction (a transactional
 * logical decoding message: no superuser needed, nothing written to a table); the sync does so for its write-backs,
 * so their consumer skips them and nothing echoes.
 */
export async function markOrigin(client: Queryable, origin: string): Promise<void> {
  await client.query(`select pg_logical_emit_message(true, '${ORIGIN_MESSAGE_PREFIX}', $1::text)`, [origin]);
}

/** What an origin may be in a MySQL statement's marker comment: a safe token (no space, quote or `*`). */
const ORIGIN_TOKEN = /^[A-Za-z0-9_.:-]{1,100}$/;
/** A marker at the very start of a statement, as the binlog's Annotate_rows / Rows_query event holds it. */
const LEADING_MARKER = /^\s*\/\*\s*strangler\.origin=([A-Za-z0-9_.:-]{1,100})\s*\*\//;

/**
 * The comment that marks a MySQL or MariaDB statement as written by `origin`: the block comment
 * `strangler.origin=<origin>` (between `/*` and its end, one space each side).
 * Lead each statement of a write-back transaction with it (markMysqlStatement): the binlog capture relay tags every
 * change of a transaction with at least one marked statement with that origin. Throws SFG_CAPTURE_ORIGIN_INVALID
 * unless the origin is 1-100 of `A-Z a-z 0-9 _ . : -` (nothing that could end the comment or inject SQL).
 */
export function mysqlOriginComment(origin: string): string {
  if (typeof origin !== 'string' || !ORIGIN_TOKEN.test(origin)) {
    throw new OutboxError(
      'SFG_CAPTURE_ORIGIN_INVALID',
      `origin ${JSON.stringify(origin)} cannot mark a MySQL statement: use 1-100 of the characters A-Z a-z 0-9 _ . : - (no space, quote or comment end)`,
    );
  }
  return `/* ${ORIGIN_MESSAGE_PREFIX}=${origin} */`;
}

/** `sql` led by mysqlOriginComment(origin) and a space, the marker comment naming `tickets` before `insert into …`, say. */
export function markMysqlStatement(sql: string, origin: string): string {
  return `${mysqlOriginComment(origin)} ${sql}`;
}

/**
 * The origin a statement's leading marker names, or undefined. Only a comment that starts the statement counts, so
 * a marker written inside a string literal (a user's text in an insert) never marks anything.
 */
export function mysqlStatementOrigin(statement: string): string | undefined {
  // Hot path (one call per statement in the binlog): most statements start with a letter.
  const first = statement.charCodeAt(0);
  if (first !== 0x2f /* / */ && first !== 0x20 && first !== 0x0a && first !== 0x0d && first !== 0x09) return undefined;
  return LEADING_MARKER.exec(statement)?.[1];
}

/**
 * Makes a MySQL or MariaDB session log its statements' text in the binlog, which the relay reads the marker from.
 * The variable is `binlog_rows_query_log_events` on MySQL (off by default) and `binlog_annotate_row_events` on
 * MariaDB (on by default). Nothing is done when the session's value is already ON (the default, or set globally);
 * when it is OFF the session sets it, which needs a privilege (MariaDB: BINLOG ADMIN; MySQL 8: SESSION_VARIABLES_ADMIN),
 * else SFG_CAPTURE_ORIGIN_SESSION: set it globally. Call it once per connection that writes marked statements, before them.
 */
export async function prepareMysqlOriginSession(connection: MysqlQueryable): Promise<void> {
  const [rows] = await connection.query('select version() as version');
  const version = String((rows as { version: unknown }[])[0]?.version ?? '');
  const mariadb = /mariadb/i.test(version);
  const variable = mariadb ? 'binlog_annotate_row_events' : 'binlog_rows_query_log_events';
  // Already on (MariaDB's default, or set globally on MySQL): nothing to set, and no privilege needed.
  const [current] = await connection.query(`select @@session.${variable} as value`);
  if (Number((current as { value: unknown }[])[0]?.value) === 1) return;
  try {
    await connection.query(`set session ${variable} = ON`);
  } catch (error) {
    throw new OutboxError(
      'SFG_CAPTURE_ORIGIN_SESSION',
      `this session cannot set ${variable} = ON (${(error as Error).message}): run SET GLOBAL ${variable} = ON (and set it in the server's option file), or grant the writer the privilege`,
      { cause: error },
    );
  }
}
