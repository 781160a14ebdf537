import mysql from 'mysql2/promise';
import { markMysqlStatement, prepareMysqlOriginSession } from '../outbox';
import type { MappingIssue } from './errors';
import type { ColumnField, JoinedTable, SideMapping } from './options';
import { checkSideTables } from './schema-check';
import type { SidePage } from './side';
import type { Document } from './translate';

/**
 * A MySQL or MariaDB database a mapping side lives in: a mysql2 pool whose sessions read TIMESTAMP columns in the
 * configured zone, and that zone, in which DATETIME values (which carry none) are read.
 */
export class MySqlDatabase {
  /** `+00:00` unless the URL says otherwise (`?timezone=+02:00`). */
  readonly timezone: string;
  /** The URL's database (what unqualified table names are in); undefined when it names none. */
  readonly database: string | undefined;
  private readonly pool: mysql.Pool;
  /** Connections whose session was prepared to log the origin marker (transaction's `marked`). */
  private readonly marking = new WeakSet<object>();

  /**
   * `url` is `mysql://user:password@host:port/database` (`mariadb://` works too). A `timezone` parameter (an offset,
   * `+02:00`, or `Z`) says in which zone the monolith writes its DATETIME values; default UTC.
   */
  constructor(url: string, options: { connectionLimit?: number } = {}) {
    const parsed = new URL(url);
    const timezone = parsed.searchParams.get('timezone') ?? '+00:00';
    this.timezone = timezoneOffset(timezone);
    this.database = decodeURIComponent(parsed.pathname.slice(1)) || undefined;
    this.pool = mysql.createPool({
      host: decodeURIComponent(parsed.hostname) || '127.0.0.1',
      port: parsed.port ? Number(parsed.port) : 3306,
      user: decodeURIComponent(parsed.username) || 'root',
      password: decodeURIComponent(parsed.password) || undefined,
      database: this.database,
      connectionLimit: options.connectionLimit ?? 2,
      charset: 'utf8mb4',
      // Values as text where JavaScript numbers would round them, and temporal values as written: decoded below.
      supportBigNumbers: true,
      bigNumberStrings: true,
      decimalNumbers: false,
      dateStrings: true,
    });
    // TIMESTAMP columns are stored in UTC and shown in the session's zone: the same zone DATETIME is read in. The
    // statement is queued before any other on the connection; if the server refuses it, the connection is destroyed,
    // so the reads queued behind it fail instead of reading in the server's zone.
    this.pool.on('connection', (connection) => {
      const core = connection as unknown as { query(sql: string, callback: (error: Error | null) => void): void; destroy(): void };
      core.query(`set time_zone = '${this.timezone}'`, (error) => {
        if (error) core.destroy();
      });
    });
  }

  async query(sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
    const [rows] = await this.pool.query(sql, params);
    return rows as Array<Record<string, unknown>>;
  }

  /**
   * Runs `work` in a transaction on one connection of the pool: committed when it resolves, rolled back when it
   * throws. The session it gets is what MySqlSideStore's writes take to join the transaction. `marked` (the sync's
   * write-backs): the session logs its statements' text in the binlog (prepareMysqlOriginSession, once per
   * connection), so the capture reads the origin marker of the statements, and it may write zero dates
   * (allowZeroDates, once per connection). `isolation`: the transaction's level, when the server's
   * default may differ.
   */
  async transaction<T>(work: (session: MySqlSession) => Promise<T>, options: { marked?: boolean; isolation?: 'repeatable read' | 'read committed' } = {}): Promise<T> {
    const connection = await this.pool.getConnection();
    try {
      const core = (connection as unknown as { connection?: object }).connection ?? connection;
      if (options.marked && !this.marking.has(core)) {
        await prepareMysqlOriginSession(connection);
        await allowZeroDates(connection);
        this.marking.add(core);
      }
      // The server's default isolation can be another: a level asked for is set for this transaction only.
      if (options.isolation) await connection.query(`set transaction isolation level ${options.isolation}`);
      await connection.query('begin');
      const session: MySqlSession = {
        query: async (sql, params = []) => (await connection.query(sql, params))[0] as Array<Record<string, unknown>>,
      };
      try {
        const result = await work(session);
        await connection.query('commit');
        return result;
      } catch (error) {
        await connection.query('rollback').catch(() => undefined);
        throw error;
      }
    } finally {
      connection.release();
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Lets a session write MySQL's zero date ('0000-00-00 00:00:00'), which legacies such as WordPress keep for "no date"
 * in NOT NULL DATETIME columns (a toLegacy translator gives it back): drops NO_ZERO_DATE and NO_ZERO_IN_DATE from the
 * session's sql_mode, as those applications do for their own sessions, and keeps every other mode, strict mode
 * included. MySQL 5.7 and 8.0 have both by default; MariaDB has neither, and then nothing is set. No privilege needed.
 */
async function allowZeroDates(connection: { query(sql: string, params?: unknown[]): Promise<unknown> }): Promise<void> {
  const [rows] = (await connection.query('select @@session.sql_mode as mode')) as [Array<{ mode: unknown }>];
  const modes = String(rows[0]?.mode ?? '').split(',').filter(Boolean);
  const kept = modes.filter((mode) => mode !== 'NO_ZERO_DATE' && mode !== 'NO_ZERO_IN_DATE');
  if (kept.length < modes.length) await connection.query('set session sql_mode = ?', [kept.join(',')]);
}

/** One connection inside a transaction (MySqlDatabase.transaction): what a MySQL side's writes run on. */
export interface MySqlSession {
  query(sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
}

/** What MySqlSideStore's reads run on: a MySqlDatabase (its pool) or a session inside a transaction. */
export type MySqlQueryable = Pick<MySqlSession, 'query'>;

/** How a write-back to a MySQL side is sent: `markOrigin` leads each statement with the origin marker (markMysqlStatement). */
export interface MySqlWriteOptions {
  markOrigin?: string;
}

/** Whether a connection string names a MySQL or MariaDB server. */
export function isMySqlUrl(url: string): boolean {
  return /^(mysql|mariadb):\/\//i.test(url);
}

function timezoneOffset(raw: string): string {
  // `?timezone=+02:00` written as is: a query string reads `+` as a space.
  const value = raw.replace(/^ /, '+');
  if (value === 'Z' || value.toUpperCase() === 'UTC') return '+00:00';
  const offset = /^[+-](\d{2}):(\d{2})$/.exec(value);
  if (!offset || Number(offset[1]) > 14 || Number(offset[2]) > 59) throw new Error(`timezone must be an offset such as +02:00, or Z; got '${value}'`);
  return value;
}

/** How a MySQL column's value is decoded into what node-postgres answers for the equivalent Postgres type. */
export type MySqlValueKind = 'integer' | 'bigint' | 'decimal' | 'float' | 'boolean' | 'datetime' | 'date' | 'json' | 'binary' | 'text';

interface MySqlColumn {
  /** The column type as MySQL shows it: `tinyint(1)`, `decimal(10,2)`, `varchar(64)`. */
  type: string;
  kind: MySqlValueKind;
}

/** The decoding of a column from information_schema: its DATA_TYPE, COLUMN_TYPE and whether a json_valid check guards it (MariaDB's JSON). */
export function mySqlKindOf(dataType: string, columnType: string, jsonChecked = false): MySqlValueKind {
  const type = dataType.toLowerCase();
  // tinyint(1) (MySQL's BOOLEAN) stays a number, as the binlog capture's records carry it (Debezium's INT16): a
  // boolean service column takes 0/1, and verify compares it as the service's type says. A value above 1 is kept.
  if (type === 'bit' && /^bit\(1\)$/i.test(columnType)) return 'boolean';
  if (['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'year'].includes(type)) return 'integer';
  if (type === 'bigint') return 'bigint';
  if (type === 'decimal' || type === 'numeric') return 'decimal';
  if (type === 'float' || type === 'double' || type === 'real') return 'float';
  if (type === 'datetime' || type === 'timestamp') return 'datetime';
  if (type === 'date') return 'date';
  if (type === 'json' || jsonChecked) return 'json';
  if (type.endsWith('blob') || type === 'binary' || type === 'varbinary' || type === 'bit') return 'binary';
  return 'text';
}

/**
 * A MySQL value (as mysql2 answers it with big numbers and dates as strings) in the form node-postgres gives for the
 * equivalent Postgres type, so translation, writes into a Postgres side and verify's normalisation treat both alike:
 * bit(1) -> boolean, bigint and decimal -> exact decimal text, datetime/timestamp -> ISO 8601 with the zone's offset
 * (microseconds kept), json -> parsed value, zero dates -> null. tinyint(1) stays a number (see mySqlKindOf).
 */
export function decodeMySqlValue(kind: MySqlValueKind, value: unknown, timezone = '+00:00'): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'boolean':
      return Buffer.isBuffer(value) ? value.some((byte) => byte !== 0) : Number(value) !== 0;
    case 'integer':
    case 'float':
      return Number(value);
    case 'bigint':
    case 'decimal':
      return String(value);
    case 'datetime': {
      const text = String(value);
      if (text.startsWith('0000-00-00')) return null;
      return `${text.replace(' ', 'T')}${timezone}`;
    }
    case 'date': {
      const text = String(value);
      return text.startsWith('0000-00-00') ? null : text;
    }
    case 'json':
      return typeof value === 'string' ? JSON.parse(value) : Buffer.isBuffer(value) ? JSON.parse(value.toString('utf8')) : value;
    case 'binary':
      return Buffer.isBuffer(value) ? value : Buffer.from(String(value));
    default:
      return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
}

/**
 * The inverse of decodeMySqlValue: a value in node-postgres' shapes as a mysql2 parameter for a column of `kind`.
 * Datetimes (ISO 8601 text with any offset, or a Date) become the wall time in `timezone` (microseconds kept);
 * JSON is sent as its text; booleans as 1/0; dates as `YYYY-MM-DD`; decimals and bigints as their exact text.
 */
export function encodeMySqlValue(kind: MySqlValueKind, value: unknown, timezone = '+00:00'): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'boolean':
    case 'integer':
      return typeof value === 'boolean' ? (value ? 1 : 0) : value;
    case 'bigint':
    case 'decimal':
      return typeof value === 'boolean' ? (value ? 1 : 0) : String(value);
    case 'float':
      return typeof value === 'string' ? Number(value) : value;
    case 'datetime':
      return wallTime(value, timezone);
    case 'date':
      return value instanceof Date ? value.toISOString().slice(0, 10) : /^\d{4}-\d{2}-\d{2}/.exec(String(value))?.[0] ?? String(value);
    case 'json':
      return JSON.stringify(value);
    case 'binary':
      return Buffer.isBuffer(value) ? value : Buffer.from(String(value));
    default:
      return Buffer.isBuffer(value) ? value.toString('utf8') : typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
}

const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** A datetime as `YYYY-MM-DD HH:MM:SS.ffffff` in `timezone` (an offset such as +02:00); text without an offset is taken as already in it. */
function wallTime(value: unknown, timezone: string): string {
  const text = value instanceof Date ? value.toISOString() : String(value);
  const match = ISO_DATETIME.exec(text.trim());
  if (!match) throw new Error(`cannot write '${text}' into a DATETIME or TIMESTAMP column: not an ISO 8601 datetime`);
  const [, year, month, day, hour, minute, second = '00', fraction = '', offset] = match;
  const fractionText = fraction ? `.${fraction.slice(0, 6)}` : '';
  if (!offset) return `${year}-${month}-${day} ${hour}:${minute}:${second}${fractionText}`;
  const minutes = (zone: string) => {
    if (/^z$/i.test(zone)) return 0;
    const parts = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    return (parts[1] === '-' ? -1 : 1) * (Number(parts[2]) * 60 + Number(parts[3] ?? 0));
  };
  // The instant to the whole second, moved into the target zone; the fraction does not change with a whole-minute shift.
  const utc = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second)) - minutes(offset) * 60_000;
  const local = new Date(utc + minutes(timezone) * 60_000).toISOString();
  return `${local.slice(0, 10)} ${local.slice(11, 19)}${fractionText}`;
}

export function quoteMySql(identifier: string): string {
  return `\`${identifier.replace(/`/g, '``')}\``;
}

/** A mapping's table name (`table` or `database.table`) as a quoted MySQL name; names are taken as written (MySQL on Linux is case-sensitive). */
export function quoteMySqlTable(name: string): string {
  return name.split('.').map(quoteMySql).join('.');
}

const KEY_ALIAS = '__strangler_key';

/**
 * One side's tables for one aggregate in MySQL or MariaDB, checked against the live schema (information_schema):
 * read in key order (keyset pages) or by keys, main and joined tables, values decoded as node-postgres would answer
 * the equivalent Postgres types. Integer keys page in numeric order; other keys in the byte order of their UTF-8
 * text (what Postgres' "C" collation gives), whatever the column's charset and collation. Writes documents back in
 * the legacy's shape (writeMany, deleteMany), values encoded from the same shapes.
 */
export class MySqlSideStore {
  private readonly statements;

  private constructor(
    readonly mapping: SideMapping,
    private readonly columns: Map<string, Map<string, MySqlColumn>>,
    private readonly timezone: string,
    /** Many-row tables with a unique index on (key, position): written by position. */
    private readonly positioned: ReadonlySet<string> = new Set(),
  ) {
    const table = quoteMySqlTable(mapping.table);
    const key = quoteMySql(mapping.keyColumn);
    const integerKey = this.keyKind === 'integer';
    // Text keys: compared as the bytes of their UTF-8 text, with no pad-space or case folding of the column's collation.
    const ordered = integerKey ? key : `cast(convert(${key} using utf8mb4) as binary)`;
    const after = integerKey ? `${key} > ?` : `${ordered} > cast(convert(? using utf8mb4) as binary)`;
    const insertColumns = [...mapping.fields.map(({ column }) => column), ...(mapping.originColumn ? [mapping.originColumn] : [])];
    const selected = [`${key} as ${quoteMySql(KEY_ALIAS)}`, ...mapping.fields.map(({ column }) => quoteMySql(column)), ...(mapping.originColumn ? [quoteMySql(mapping.originColumn)] : [])].join(', ');
    this.statements = {
      firstPage: `select ${selected} from ${table} order by ${ordered} limit ?`,
      nextPage: `select ${selected} from ${table} where ${after} order by ${ordered} limit ?`,
      count: `select count(*) as count from ${table}`,
      readMany: `select ${selected} from ${table} where ${key} in (?)`,
      lockMany: `select ${key} as ${quoteMySql(KEY_ALIAS)} from ${table} where ${key} in (?) for update`,
      insertMain: `insert into ${table} (${insertColumns.map(quoteMySql).join(', ')}) values ?`,
      upsertMain: `insert into ${table} (${insertColumns.map(quoteMySql).join(', ')}) values ? ${onDuplicate(mapping.keyColumn, insertColumns, mapping.insertOnlyColumns, mapping.lockVersionColumn)}`,
      deleteMain: `delete from ${table} where ${key} in (?)`,
      joined: mapping.joined.map((joined) => {
        const joinedTable = quoteMySqlTable(joined.table);
        const joinedKey = quoteMySql(joined.keyColumn);
        const order = joined.positionColumn ? `, ${quoteMySql(joined.positionColumn)}` : '';
        const columns = [joined.keyColumn, ...joined.fields.map(({ column }) => column), ...(joined.positionColumn ? [joined.positionColumn] : [])];
        const insert = `insert into ${joinedTable} (${columns.map(quoteMySql).join(', ')}) values ?`;
        const byPosition = joined.as && joined.positionColumn && positioned.has(joined.table);
        return {
          table: joined,
          // One row: upserted by its key. Many rows: all deleted and inserted again, or, with a unique (key, position),
          // upserted by position (MySQL leaves a row whose values are the same untouched) and those past the new length deleted.
          write: !joined.as
            ? `${insert} ${onDuplicate(joined.keyColumn, columns, [], undefined)}`
            : byPosition
              ? `${insert} on duplicate key update ${joined.fields.map(({ column }) => `${quoteMySql(column)} = values(${quoteMySql(column)})`).join(', ')}`
              : insert,
          remove: `delete from ${joinedTable} where ${joinedKey} in (?)`,
          trim: byPosition ? `delete from ${joinedTable} where ${joinedKey} = ? and ${quoteMySql(joined.positionColumn!)} >= ?` : undefined,
          read: `select ${joinedKey} as ${quoteMySql(KEY_ALIAS)}, ${joined.fields.map(({ column }) => quoteMySql(column)).join(', ')} from ${quoteMySqlTable(joined.table)} where ${joinedKey} in (?) order by ${joinedKey}${order}`,
        };
      }),
    };
  }

  /**
   * Reads the live columns of every table the side names and reports, each with its path under `at`, a missing
   * table, a missing column, a version that is not an integer, or a key without a unique index: as SideStore.open.
   */
  static async open(database: MySqlDatabase, mapping: SideMapping, at: string, issues: MappingIssue[]): Promise<MySqlSideStore | undefined> {
    const before = issues.length;
    const columns = await checkSideTables({ liveColumns: (table) => liveColumns(database, table), hasUniqueIndex: (table, column) => hasUniqueIndex(database, table, column) }, mapping, at, issues);
    for (const [name, column, label] of [
      [mapping.versionColumn, 'version', 'the version'],
      [mapping.lockVersionColumn, 'lockVersion', 'a lock version'],
    ] as const) {
      const live = name ? columns.get(mapping.table)?.get(name) : undefined;
      if (live && live.kind !== 'integer' && live.kind !== 'bigint') issues.push({ path: `${at}.${column}`, message: `${mapping.table}.${name} is ${live.type}; ${label} must be an integer column` });
    }
    if (issues.length > before) return undefined;
    const positioned = new Set<string>();
    for (const table of mapping.joined) {
      if (table.as && table.positionColumn && (await hasUniqueIndexOn(database, table.table, [table.keyColumn, table.positionColumn]))) positioned.add(table.table);
    }
    return new MySqlSideStore(mapping, columns, database.timezone, positioned);
  }

  /** `integer` keys compare as numbers, others as strings (read in UTF-8 byte order to match). */
  get keyKind(): 'integer' | 'text' {
    const kind = this.column(this.mapping.table, this.mapping.keyColumn).kind;
    return kind === 'integer' || kind === 'bigint' ? 'integer' : 'text';
  }

  /** The live column type of one of the side's tables (`decimal(10,2)`); undefined when unknown. */
  sqlTypeOf(table: string, column: string): string | undefined {
    return this.columns.get(table)?.get(column)?.type;
  }

  async count(database: MySqlDatabase): Promise<number> {
    return Number((await database.query(this.statements.count))[0]!.count);
  }

  /** Documents in key order, `chunkSize` per page, after `afterKey` when resuming; as SideStore.pages. */
  async *pages(database: MySqlDatabase, options: { chunkSize: number; afterKey?: string }): AsyncGenerator<SidePage> {
    let afterKey = options.afterKey;
    for (;;) {
      const rows = afterKey === undefined
        ? await database.query(this.statements.firstPage, [options.chunkSize])
        : await database.query(this.statements.nextPage, [afterKey, options.chunkSize]);
      if (rows.length === 0) return;
      const page = rows.map((row) => ({
        document: this.fromRow(this.mapping.table, this.mapping.fields, row),
        origin: this.mapping.originColumn && row[this.mapping.originColumn] != null ? String(row[this.mapping.originColumn]) : undefined,
        key: keyText(row[KEY_ALIAS]),
      }));
      await this.attachJoined(database, new Map(page.map(({ key, document }) => [key, document])));
      yield page;
      afterKey = page[page.length - 1]!.key;
      if (rows.length < options.chunkSize) return;
    }
  }

  /**
   * The current documents of `keys`, main and joined tables; absent keys are missing from the map. `lock` makes every
   * read a locking read (`lock in share mode` or `for update`; inside a transaction): it waits for the writers
   * holding those rows and reads their latest committed version.
   */
  async readMany(database: MySqlQueryable, keys: readonly string[], options: { lock?: 'share' | 'update' } = {}): Promise<Map<string, Document>> {
    const documents = new Map<string, Document>();
    if (keys.length === 0) return documents;
    const suffix = lockClause(options.lock);
    for (const row of await database.query(this.statements.readMany + suffix, [keys])) documents.set(keyText(row[KEY_ALIAS]), this.fromRow(this.mapping.table, this.mapping.fields, row));
    await this.attachJoined(database, documents, suffix);
    return documents;
  }

  /** Locks the main rows of `keys` (`for update`, in the session's transaction); answers the keys that have one. */
  async lockMany(session: MySqlSession, keys: readonly string[], options: MySqlWriteOptions = {}): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const sql = options.markOrigin ? markMysqlStatement(this.statements.lockMany, options.markOrigin) : this.statements.lockMany;
    return new Set((await session.query(sql, [[...keys]])).map((row) => keyText(row[KEY_ALIAS])));
  }

  /**
   * The joined tables (by index) whose rows would be written the same for `before` as for `after` (documents in
   * this side's shape): what writeMany's `keep` can leave alone. Compared as the values written, after encoding.
   */
  unchangedJoined(before: Document, after: Document): Set<number> {
    const unchanged = new Set<number>();
    for (const [index, { table }] of this.statements.joined.entries()) {
      const encoded = (document: Document) => {
        const rows = table.as ? (Array.isArray(document[table.as]) ? (document[table.as] as Document[]) : []) : [document];
        return JSON.stringify(rows.map((row) => this.joinedParams(table, row)));
      };
      if (encoded(before) === encoded(after)) unchanged.add(index);
    }
    return unchanged;
  }

  /** The key of a document as text (what the by-key methods and `absent` take). */
  keyOf(document: Document): string {
    return String(document[this.mapping.keyField]);
  }

  /**
   * Writes documents in the legacy's shape, with SideStore.writeMany's semantics. Documents whose key is in
   * `absent` are plainly inserted: when one appeared meanwhile (duplicate key, error 1062) the answer is false.
   * Present ones are upserted (`insert … on duplicate key update`, with `values(col)`, which both MariaDB and MySQL
   * 8 take): insert-only columns are left alone on update and the lock version incremented. One-row joined tables
   * are upserted; many-row tables replaced, or written by position under a unique (key, position). `keep` names, per
   * key, the joined tables (by index) already holding what the document says. With `markOrigin`, every statement is
   * led by the origin marker, so the binlog capture tags the write-back with that origin.
   *
   * On a MySqlDatabase the writes run in a transaction of their own, rolled back when the answer is false. On a
   * session (MySqlDatabase.transaction) they join its transaction, and on false the caller rolls back: MySQL fails
   * only the refused statement, so what ran before it would otherwise stay.
   */
  async writeMany(
    target: MySqlDatabase | MySqlSession,
    documents: readonly Document[],
    origin: string,
    absent: ReadonlySet<string> = new Set(),
    keep: ReadonlyMap<string, ReadonlySet<number>> = new Map(),
    options: MySqlWriteOptions = {},
  ): Promise<boolean> {
    if (documents.length === 0) return true;
    if (target instanceof MySqlDatabase) {
      const refused = new Error('duplicate key');
      try {
        return await target.transaction(async (session) => {
          if (!(await this.writeMany(session, documents, origin, absent, keep, options))) throw refused;
          return true;
        });
      } catch (error) {
        if (error === refused) return false;
        throw error;
      }
    }
    const run = (sql: string, params: unknown[]) => target.query(options.markOrigin ? markMysqlStatement(sql, options.markOrigin) : sql, params);
    const fresh = documents.filter((document) => absent.has(this.keyOf(document)));
    const present = documents.filter((document) => !absent.has(this.keyOf(document)));
    try {
      if (fresh.length) await run(this.statements.insertMain, [fresh.map((document) => this.mainParams(document, origin))]);
    } catch (error) {
      if (isMySqlDuplicateKey(error)) return false;
      throw error;
    }
    if (present.length) await run(this.statements.upsertMain, [present.map((document) => this.mainParams(document, origin))]);
    for (const [index, { table, write, remove, trim }] of this.statements.joined.entries()) {
      const changed = keep.size === 0 ? documents : documents.filter((document) => !keep.get(this.keyOf(document))?.has(index));
      if (changed.length === 0) continue;
      const rows: unknown[][] = [];
      if (!table.as) {
        for (const document of changed) rows.push([document[this.mapping.keyField], ...this.joinedParams(table, document)]);
      } else {
        if (!trim) await run(remove, [changed.map((document) => this.keyOf(document))]);
        for (const document of changed) {
          const items = Array.isArray(document[table.as]) ? (document[table.as] as Document[]) : [];
          if (trim) await run(trim, [document[this.mapping.keyField], items.length]);
          for (const [position, item] of items.entries()) rows.push([document[this.mapping.keyField], ...this.joinedParams(table, item), ...(table.positionColumn ? [position] : [])]);
        }
      }
      if (rows.length) await run(write, [rows]);
    }
    return true;
  }

  /** Deletes the aggregates of `keys`: joined rows first, then the main row; in a transaction of its own on a MySqlDatabase. */
  async deleteMany(target: MySqlDatabase | MySqlSession, keys: readonly string[], options: MySqlWriteOptions = {}): Promise<void> {
    if (keys.length === 0) return;
    if (target instanceof MySqlDatabase) return target.transaction((session) => this.deleteMany(session, keys, options));
    const run = (sql: string) => target.query(options.markOrigin ? markMysqlStatement(sql, options.markOrigin) : sql, [[...keys]]);
    for (const { remove } of [...this.statements.joined].reverse()) await run(remove);
    await run(this.statements.deleteMain);
  }

  private mainParams(document: Document, origin: string): unknown[] {
    const params = this.mapping.fields.map(({ field, column }) => encodeMySqlValue(this.column(this.mapping.table, column).kind, document[field], this.timezone));
    if (this.mapping.originColumn) params.push(origin);
    return params;
  }

  private joinedParams(table: JoinedTable, values: Document): unknown[] {
    return table.fields.map(({ field, column }) => encodeMySqlValue(this.column(table.table, column).kind, values[field], this.timezone));
  }

  private column(table: string, column: string): MySqlColumn {
    return this.columns.get(table)!.get(column)!;
  }

  private fromRow(table: string, fields: ColumnField[], row: Record<string, unknown>): Document {
    const document: Document = {};
    for (const { field, column } of fields) document[field] = decodeMySqlValue(this.column(table, column).kind, row[column], this.timezone);
    return document;
  }

  private async attachJoined(database: MySqlQueryable, byKey: Map<string, Document>, suffix = ''): Promise<void> {
    if (byKey.size === 0) return;
    for (const { table, read } of this.statements.joined) {
      if (table.as) for (const document of byKey.values()) document[table.as] = [];
      for (const row of await database.query(read + suffix, [[...byKey.keys()]])) {
        const document = byKey.get(keyText(row[KEY_ALIAS]));
        if (!document) continue;
        const values = this.fromRow(table.table, table.fields, row);
        if (table.as) (document[table.as] as Document[]).push(values);
        else Object.assign(document, values);
      }
    }
  }
}

/**
 * An upsert's `on duplicate key update` clause: every column but the key and the insert-only ones takes the inserted
 * value (`values(col)`: MariaDB has no `as new` row alias; MySQL 8 deprecates `values()` but takes it), and the lock
 * version is incremented. With nothing to update, the key is set to itself (the row is left as it is).
 */
function onDuplicate(keyColumn: string, columns: readonly string[], insertOnly: readonly string[], lockVersion: string | undefined): string {
  const updates = columns.filter((column) => column !== keyColumn && !insertOnly.includes(column) && column !== lockVersion).map((column) => `${quoteMySql(column)} = values(${quoteMySql(column)})`);
  if (lockVersion) updates.push(`${quoteMySql(lockVersion)} = ${quoteMySql(lockVersion)} + 1`);
  if (updates.length === 0) updates.push(`${quoteMySql(keyColumn)} = ${quoteMySql(keyColumn)}`);
  return `on duplicate key update ${updates.join(', ')}`;
}

function lockClause(lock: 'share' | 'update' | undefined): string {
  return lock === 'share' ? ' lock in share mode' : lock === 'update' ? ' for update' : '';
}

/** A deadlock (1213) or a lock wait timeout (1205): the statement (1205) or the transaction (1213) failed; retry it whole. */
export function isMySqlLockFailure(error: unknown): boolean {
  const errno = (error as { errno?: unknown } | undefined)?.errno;
  return errno === 1213 || errno === 1205;
}

/** A duplicate key (ER_DUP_ENTRY, 1062): a row the writer found absent was inserted meanwhile. */
export function isMySqlDuplicateKey(error: unknown): boolean {
  return (error as { errno?: unknown } | undefined)?.errno === 1062;
}

function keyText(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

/** `database.table` or `table` (in the connection's database). */
function tableParts(name: string): { schema: string | null; table: string } {
  const dot = name.indexOf('.');
  return dot < 0 ? { schema: null, table: name } : { schema: name.slice(0, dot), table: name.slice(dot + 1) };
}

async function liveColumns(database: MySqlDatabase, name: string): Promise<Map<string, MySqlColumn> | undefined> {
  const { schema, table } = tableParts(name);
  const rows = await database.query(
    `select column_name as name, data_type as dataType, column_type as columnType
       from information_schema.columns where table_schema = coalesce(?, database()) and table_name = ? order by ordinal_position`,
    [schema, table],
  );
  if (rows.length === 0) return undefined;
  // MariaDB's JSON is longtext with a json_valid check; MySQL's is a type of its own.
  const checks = await database.query(
    `select check_clause as clause from information_schema.check_constraints where constraint_schema = coalesce(?, database()) and table_name = ?`,
    [schema, table],
  ).catch(() => [] as Array<Record<string, unknown>>);
  const jsonColumns = new Set(checks.map((row) => /^json_valid\(`(.+)`\)$/i.exec(String(row.clause))?.[1]).filter((column): column is string => column !== undefined));
  return new Map(
    rows.map((row) => {
      const columnType = String(row.columnType);
      return [String(row.name), { type: columnType, kind: mySqlKindOf(String(row.dataType), columnType, jsonColumns.has(String(row.name))) }];
    }),
  );
}

/** A unique index whose columns are exactly `columns` (in any order). */
async function hasUniqueIndexOn(database: MySqlDatabase, name: string, columns: string[]): Promise<boolean> {
  const { schema, table } = tableParts(name);
  const rows = await database.query(
    `select index_name from information_schema.statistics
      where table_schema = coalesce(?, database()) and table_name = ? and non_unique = 0
      group by index_name having count(*) = ? and sum(column_name in (?)) = ?`,
    [schema, table, columns.length, columns, columns.length],
  );
  return rows.length > 0;
}

async function hasUniqueIndex(database: MySqlDatabase, name: string, column: string): Promise<boolean> {
  const { schema, table } = tableParts(name);
  const rows = await database.query(
    `select index_name from information_schema.statistics
      where table_schema = coalesce(?, database()) and table_name = ? and non_unique = 0
      group by index_name having count(*) = 1 and max(column_name) = ?`,
    [schema, table, column],
  );
  return rows.length > 0;
}
