import crypto, { createHash } from 'node:crypto';
import { escapeLiteral, type ClientBase, type Pool, type PoolClient } from 'pg';
import type { MappingIssue } from './errors';
import { checkSideTables } from './schema-check';
import type { AggregateMapping, ColumnField, JoinedTable, SideMapping } from './options';
import type { Document } from './translate';

/** Anything that runs a query: a pool for reads, a client inside a transaction. */
export type Queryable = Pool | ClientBase;

type ColumnKind = 'integer' | 'number' | 'timestamp' | 'json' | 'boolean' | 'text';

interface LiveColumn {
  /** The type without modifiers, for messages: `numeric`, `character varying`. */
  type: string;
  /** The type as SQL casts take it, modifiers included: `numeric(10,2)`, `character(5)`. */
  sqlType: string;
  kind: ColumnKind;
  /** An array-typed column (unnest would flatten it). */
  array: boolean;
}

function kindOf(typeName: string, category: string): ColumnKind {
  if (['int2', 'int4', 'int8'].includes(typeName)) return 'integer';
  if (category === 'N') return 'number';
  if (category === 'D') return 'timestamp';
  if (typeName === 'json' || typeName === 'jsonb') return 'json';
  if (category === 'B') return 'boolean';
  return 'text';
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortedKeys((value as Record<string, unknown>)[key])]));
  }
  return value;
}

const ZERO_DATE = /^0000-00-00(?:[T ]00:00:00(?:\.0+)?)?$/;

/** One representation per value, whatever side or driver it came from: what verify compares. */
function normalize(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'integer':
    case 'number':
      return Number(value);
    case 'timestamp':
      if (value instanceof Date) return value.toISOString();
      // MySQL's zero date: what a translator writes into a NOT NULL DATETIME for "no date" (decodeMySqlValue reads
      // it back as null), so it compares and hashes as null.
      if (ZERO_DATE.test(String(value))) return null;
      return new Date(String(value)).toISOString();
    case 'json':
      return sortedKeys(typeof value === 'string' ? JSON.parse(value) : value);
    case 'boolean':
      return Boolean(value);
    default:
      return String(value);
  }
}

function toParameter(kind: ColumnKind, value: unknown): unknown {
  if (value === undefined) return null;
  // node-postgres would send a JS array as a Postgres array literal: json columns get JSON text.
  if (kind === 'json' && value !== null) return JSON.stringify(value);
  return value;
}

/** A stored row's version and last writer, read under a row lock. */
export interface StoredVersion {
  version: number;
  origin: string | undefined;
}

/** The column alias carrying a row's key as Postgres prints it: the one form keys are compared and looked up in. */
const KEY_ALIAS = '__strangler_key';

/** Debezium's `unavailable.value.placeholder`: what a captured record carries for a TOASTed value an update left alone. */
export const TOAST_PLACEHOLDER = '__debezium_unavailable_value';

/**
 * One side's tables for one aggregate, checked against the live schema and with every statement built once:
 * read in key order (keyset pages) or by keys, lock rows, write documents (main table, joined tables), delete them.
 * Every identifier is quoted (reserved words, non-public schemas); keys travel as text and are cast to the live
 * key type in SQL, so any key type works.
 */
export class SideStore {
  private readonly statements;
  /** Every table's columns can go through `unnest` (no array-typed column): writes of many documents are a few statements. */
  private readonly batchable: boolean;
  private plan: { main: Array<{ field: string; kind: ColumnKind }>; joined: Array<{ as?: string; fields: Array<{ field: string; kind: ColumnKind }> }> } | undefined;

  private constructor(
    readonly mapping: SideMapping,
    private readonly columns: Map<string, Map<string, LiveColumn>>,
    /** Many-row tables with a unique index on (key, position). */
    positioned: ReadonlySet<string> = new Set(),
  ) {
    const main = mapping;
    const table = quoteTable(main.table);
    const key = quote(main.keyColumn);
    const keyColumn = this.column(main.table, main.keyColumn);
    const keyType = keyColumn.sqlType;
    const collate = keyColumn.kind === 'text' && keyColumn.type !== 'uuid' ? ' collate "C"' : '';
    const selected = [`${key}::text as ${quote(KEY_ALIAS)}`, ...main.fields.map(({ column }) => quote(column)), ...(main.originColumn ? [quote(main.originColumn)] : [])];
    const insertColumns = [...main.fields.map(({ column }) => column), ...(main.originColumn ? [main.originColumn] : [])];
    const updateRules: UpdateRules = { insertOnly: main.insertOnlyColumns, lockVersion: main.lockVersionColumn };
    const anyKey = (column: string, type: string) => `${quote(column)} = any($1::text[]::${type}[])`;
    this.batchable = [...columns.values()].every((live) => [...live.values()].every((column) => !column.array));
    this.statements = {
      firstPage: `select ${selected.join(', ')} from ${table} order by ${key}${collate} limit $1`,
      nextPage: `select ${selected.join(', ')} from ${table} where ${key}${collate} > $2 order by ${key}${collate} limit $1`,
      count: `select count(*)::bigint as count from ${table}`,
      lock: main.versionColumn
        ? `select ${quote(main.versionColumn)} as version${main.originColumn ? `, ${quote(main.originColumn)} as origin` : ''} from ${table} where ${key} = $1 for update`
        : undefined,
      readMany: `select ${selected.join(', ')} from ${table} where ${anyKey(main.keyColumn, keyType)}`,
      lockMany: `select ${key}::text as ${quote(KEY_ALIAS)}${main.versionColumn ? `, ${quote(main.versionColumn)} as version` : ''}${main.originColumn ? `, ${quote(main.originColumn)} as origin` : ''} from ${table} where ${anyKey(main.keyColumn, keyType)} order by ${key}${collate} for update`,
      upsertMain: upsert(table, main.keyColumn, insertColumns, updateRules),
      insertMain: insertValues(table, insertColumns),
      upsertMainMany: upsertUnnest(table, main.keyColumn, insertColumns.map((column) => ({ column, type: this.column(main.table, column).sqlType })), 'update', updateRules),
      insertMainMany: upsertUnnest(table, main.keyColumn, insertColumns.map((column) => ({ column, type: this.column(main.table, column).sqlType })), 'none'),
      deleteMain: `delete from ${table} where ${anyKey(main.keyColumn, keyType)}`,
      joined: mapping.joined.map((joined) => {
        const joinedTable = quoteTable(joined.table);
        const joinedKey = quote(joined.keyColumn);
        const joinedKeyType = this.column(joined.table, joined.keyColumn).sqlType;
        const joinedColumns = [...joined.fields.map(({ column }) => column), ...(joined.positionColumn ? [joined.positionColumn] : [])];
        const typed = [joined.keyColumn, ...joinedColumns].map((column) => ({ column, type: this.column(joined.table, column).sqlType }));
        const order = joined.positionColumn ? `, ${quote(joined.positionColumn)}` : '';
        const fields = joined.fields.map(({ column }) => quote(column)).join(', ');
        return {
          table: joined,
          read: `select ${joinedKey}::text as ${quote(KEY_ALIAS)}, ${fields} from ${joinedTable} where ${anyKey(joined.keyColumn, joinedKeyType)} order by ${joinedKey}${order}`,
          write: joined.as
            ? insertValues(joinedTable, [joined.keyColumn, ...joinedColumns])
            : upsert(joinedTable, joined.keyColumn, [joined.keyColumn, ...joinedColumns]),
          writeMany: joined.as ? upsertUnnest(joinedTable, joined.keyColumn, typed, 'none') : upsertUnnest(joinedTable, joined.keyColumn, typed, 'update'),
          remove: `delete from ${joinedTable} where ${joinedKey} = $1`,
          removeMany: `delete from ${joinedTable} where ${anyKey(joined.keyColumn, joinedKeyType)}`,
          // Many rows with a unique (key, position): rows are upserted by position (rewritten only where they differ)
          // and those past the new length deleted, instead of all deleted and inserted again.
          byPosition: joined.positionColumn && positioned.has(joined.table)
            ? {
                upsert: `${upsertUnnest(joinedTable, joined.keyColumn, typed, 'none')} on conflict (${joinedKey}, ${quote(joined.positionColumn)}) do update set ${joined.fields.map(({ column }) => `${quote(column)} = excluded.${quote(column)}`).join(', ')}
                  where (${joined.fields.map(({ column }) => `${joinedTable}.${quote(column)}`).join(', ')}) is distinct from (${joined.fields.map(({ column }) => `excluded.${quote(column)}`).join(', ')})`,
                trim: `delete from ${joinedTable} t using unnest($1::text[]::${joinedKeyType}[], $2::integer[]) as u(k, n) where t.${joinedKey} = u.k and t.${quote(joined.positionColumn)} >= u.n`,
              }
            : undefined,
        };
      }),
    };
  }

  /**
   * Reads the live columns of every table the side names and reports, each with its path under `at`, a missing
   * table, a missing column, a version that is not an integer, or a key without a unique index. On a captured side,
   * also a joined table whose deletes could not be traced to their aggregate (see below).
   */
  static async open(pool: Queryable, mapping: SideMapping, at: string, issues: MappingIssue[]): Promise<SideStore | undefined> {
    const before = issues.length;
    const columns = await checkSideTables({ liveColumns: (table) => liveColumns(pool, table), hasUniqueIndex: (table, column) => hasUniqueIndex(pool, table, column) }, mapping, at, issues);
    if (mapping.versionColumn) {
      const version = columns.get(mapping.table)?.get(mapping.versionColumn);
      if (version && version.kind !== 'integer') issues.push({ path: `${at}.version`, message: `${mapping.table}.${mapping.versionColumn} is ${version.type}; the version must be an integer column` });
    }
    if (mapping.lockVersionColumn) {
      const lock = columns.get(mapping.table)?.get(mapping.lockVersionColumn);
      if (lock && lock.kind !== 'integer') issues.push({ path: `${at}.lockVersion`, message: `${mapping.table}.${mapping.lockVersionColumn} is ${lock.type}; a lock version must be an integer column` });
    }
    if (mapping.captured) {
      // A delete's record carries only what the replica identity gives: with DEFAULT, the primary key columns. A joined
      // row's aggregate is found by its key column, so that column must be among them, or the table must log FULL rows.
      for (const [index, table] of mapping.joined.entries()) {
        if (!columns.get(table.table)?.has(table.keyColumn)) continue;
        const identity = await replicaIdentity(pool, table.table);
        if (identity.full || identity.columns.includes(table.keyColumn)) continue;
        issues.push({
          path: `${at}.joined.${index}.key`,
          message: `${table.table}.${table.keyColumn} is not in the table's replica identity (${identity.columns.join(', ') || 'none'}): a captured delete would not name its aggregate; run ALTER TABLE ${quoteTable(table.table)} REPLICA IDENTITY FULL`,
        });
      }
    }
    const positioned = new Set<string>();
    for (const table of mapping.joined) {
      if (table.as && table.positionColumn && columns.has(table.table) && (await hasUniqueIndexOn(pool, table.table, [table.keyColumn, table.positionColumn]))) positioned.add(table.table);
    }
    return issues.length > before ? undefined : new SideStore(mapping, columns, positioned);
  }

  private column(table: string, column: string): LiveColumn {
    return this.columns.get(table)!.get(column)!;
  }

  /** `integer` keys compare as numbers, others as strings (text keys are read in C collation to match). */
  get keyKind(): 'integer' | 'text' {
    return this.column(this.mapping.table, this.mapping.keyColumn).kind === 'integer' ? 'integer' : 'text';
  }

  /** The live SQL type of a column of one of the side's tables (with its modifiers, e.g. `numeric(10,2)`); undefined when unknown. */
  sqlTypeOf(table: string, column: string): string | undefined {
    return this.columns.get(table)?.get(column)?.sqlType;
  }

  async count(pool: Queryable): Promise<number> {
    return Number((await pool.query(this.statements.count)).rows[0].count);
  }

  /**
   * Documents in key order, `chunkSize` per page, after `afterKey` when resuming; each with its stored origin and
   * its key as Postgres prints it (what `afterKey` and the by-key reads take).
   */
  async *pages(pool: Queryable, options: { chunkSize: number; afterKey?: string }): AsyncGenerator<Array<{ document: Document; origin: string | undefined; key: string }>> {
    let afterKey = options.afterKey;
    for (;;) {
      const { rows } = afterKey === undefined
        ? await pool.query(this.statements.firstPage, [options.chunkSize])
        : await pool.query(this.statements.nextPage, [options.chunkSize, afterKey]);
      if (rows.length === 0) return;
      const page = (rows as Array<Record<string, unknown>>).map((row) => ({
        document: this.fromRow(this.mapping.fields, row),
        origin: this.mapping.originColumn ? stringOrUndefined(row[this.mapping.originColumn]) : undefined,
        key: String(row[KEY_ALIAS]),
      }));
      await this.attachJoined(pool, new Map(page.map(({ key, document }) => [key, document])));
      yield page;
      afterKey = page[page.length - 1]!.key;
      if (rows.length < options.chunkSize) return;
    }
  }

  /** The current documents of `keys` (keys as Postgres prints them), main and joined tables; absent keys are missing from the map. */
  async readMany(pool: Queryable, keys: readonly string[]): Promise<Map<string, Document>> {
    const documents = new Map<string, Document>();
    if (keys.length === 0) return documents;
    const { rows } = await pool.query(this.statements.readMany, [keys]);
    for (const row of rows as Array<Record<string, unknown>>) documents.set(String(row[KEY_ALIAS]), this.fromRow(this.mapping.fields, row));
    await this.attachJoined(pool, documents);
    return documents;
  }

  /**
   * readMany in one round trip and one snapshot, on a connection that is in no transaction: the reads of the main
   * and joined tables go as one simple-protocol query inside a repeatable-read, read-only transaction (the keys
   * inlined as an escaped array literal), so a document is never torn between two commits.
   */
  async readConsistent(client: ClientBase, keys: readonly string[]): Promise<Map<string, Document>> {
    if (keys.length === 0) return new Map();
    if (this.statements.joined.length === 0) return this.readMany(client, keys);
    const results = await runStatements(client, ['begin isolation level repeatable read read only', ...this.readStatements(keys), 'commit']);
    return this.documentsFrom(results.slice(1, -1));
  }

  /** readMany's statements (main table, then each joined table), keys inlined, to send with others in one round trip. */
  readStatements(keys: readonly string[]): string[] {
    return [inlined(this.statements.readMany, [keys]), ...this.statements.joined.map(({ read }) => inlined(read, [keys]))];
  }

  /** The documents in the results of readStatements (in order). */
  documentsFrom(results: ReadonlyArray<{ rows: Array<Record<string, unknown>> }>): Map<string, Document> {
    const documents = new Map<string, Document>();
    for (const row of results[0]!.rows) documents.set(String(row[KEY_ALIAS]), this.fromRow(this.mapping.fields, row));
    for (const [index, { table }] of this.statements.joined.entries()) {
      if (table.as) for (const document of documents.values()) document[table.as] = [];
      for (const row of results[1 + index]!.rows) {
        const document = documents.get(String(row[KEY_ALIAS]));
        if (!document) continue;
        const values = this.fromRow(table.fields, row);
        if (table.as) (document[table.as] as Document[]).push(values);
        else Object.assign(document, values);
      }
    }
    return documents;
  }

  private fromRow(fields: ColumnField[], row: Record<string, unknown>): Document {
    const document: Document = {};
    for (const { field, column } of fields) {
      const value = row[column];
      document[field] = value instanceof Date ? value.toISOString() : value;
    }
    return document;
  }

  private async attachJoined(pool: Queryable, byKey: Map<string, Document>): Promise<void> {
    if (this.statements.joined.length === 0 || byKey.size === 0) return;
    for (const { table, read } of this.statements.joined) {
      if (table.as) for (const document of byKey.values()) document[table.as] = [];
      const { rows } = await pool.query(read, [[...byKey.keys()]]);
      for (const row of rows as Array<Record<string, unknown>>) {
        const document = byKey.get(String(row[KEY_ALIAS]));
        if (!document) continue;
        const values = this.fromRow(table.fields, row);
        if (table.as) (document[table.as] as Document[]).push(values);
        else Object.assign(document, values);
      }
    }
  }

  /** The stored version and origin of `key`, locked until the transaction ends; undefined when absent. */
  async lock(client: ClientBase, key: unknown): Promise<StoredVersion | undefined> {
    if (!this.statements.lock) throw new Error(`${this.mapping.side} side of ${this.mapping.table} has no version to lock`);
    const row = (await client.query(this.statements.lock, [key])).rows[0] as { version: unknown; origin?: unknown } | undefined;
    return row ? { version: Number(row.version), origin: stringOrUndefined(row.origin) } : undefined;
  }

  /**
   * Locks the main rows of `keys` (in key order, until the transaction ends) and answers the version and origin of
   * each present one (version 0 on a side without versions); absent keys are missing from the map.
   */
  async lockMany(client: ClientBase, keys: readonly string[]): Promise<Map<string, StoredVersion>> {
    if (keys.length === 0) return new Map();
    return this.lockedRows((await client.query(this.statements.lockMany, [keys])).rows);
  }

  /** lockMany as one statement with its keys inlined, to send with others in one round trip (simple protocol). */
  lockManyStatement(keys: readonly string[]): string {
    return inlined(this.statements.lockMany, [keys]);
  }

  /** The rows of a lockManyStatement, as lockMany answers them. */
  lockedRows(rows: Array<Record<string, unknown>>): Map<string, StoredVersion> {
    const stored = new Map<string, StoredVersion>();
    for (const row of rows) stored.set(String(row[KEY_ALIAS]), { version: row.version === undefined ? 0 : Number(row.version), origin: stringOrUndefined(row.origin) });
    return stored;
  }

  /** The key of a document as Postgres prints it (what the by-key methods take). */
  keyOf(document: Document): string {
    const value = document[this.mapping.keyField];
    return value instanceof Date ? value.toISOString() : String(value);
  }

  /** Writes `document` over whatever the side stores for its key: main row, one-row tables, many-row tables replaced. */
  async write(client: ClientBase, document: Document, origin: string): Promise<void> {
    await this.writeOne(client, document, origin, false);
  }

  private async writeOne(client: ClientBase, document: Document, origin: string, onlyNew: boolean, keep?: ReadonlySet<number>): Promise<boolean> {
    try {
      await this.writeOneUnchecked(client, document, origin, onlyNew, keep);
      return true;
    } catch (error) {
      if (onlyNew && isUniqueViolation(error)) return false;
      throw error;
    }
  }

  private async writeOneUnchecked(client: ClientBase, document: Document, origin: string, onlyNew: boolean, keep?: ReadonlySet<number>): Promise<void> {
    const main = this.mapping;
    const params = this.mainParams(document, origin);
    if (onlyNew) {
      await client.query(this.statements.insertMain, params);
    } else {
      await client.query(this.statements.upsertMain, params);
    }
    const key = document[main.keyField];
    for (const [index, { table, write, remove }] of this.statements.joined.entries()) {
      if (keep?.has(index)) continue;
      if (!table.as) {
        await client.query(write, [key, ...this.joinedParams(table, document)]);
        continue;
      }
      await client.query(remove, [key]);
      const items = Array.isArray(document[table.as]) ? (document[table.as] as Document[]) : [];
      for (const [index, item] of items.entries()) await client.query(write, [key, ...this.joinedParams(table, item), ...(table.positionColumn ? [index] : [])]);
    }
  }

  /**
   * Writes many documents in a few statements (multi-row `unnest` upserts; a table with an array-typed column is
   * written row by row). Documents whose main row the caller found absent (`absent`, keys as Postgres prints them)
   * are plainly inserted: when one appeared meanwhile (a concurrent writer), the insert fails, the transaction is
   * aborted and the answer is false, so the caller rolls back and decides again. `keep` names, per key, the joined tables
   * (by index) that already hold what the document says: they are not rewritten.
   */
  async writeMany(
    client: ClientBase,
    documents: readonly Document[],
    origin: string,
    absent: ReadonlySet<string> = new Set(),
    keep: ReadonlyMap<string, ReadonlySet<number>> = new Map(),
  ): Promise<boolean> {
    if (documents.length === 0) return true;
    if (!this.batchable) {
      for (const document of documents) {
        const key = this.keyOf(document);
        if (!(await this.writeOne(client, document, origin, absent.has(key), keep.get(key)))) return false;
      }
      return true;
    }
    try {
      await runStatements(client, this.writeStatements(documents, origin, absent, keep));
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /**
   * writeMany's statements, values inlined as escaped array literals, for the caller to send with others in one
   * round trip (simple protocol). Absent rows are plainly inserted: one that appeared meanwhile fails the statement
   * with a unique violation (isUniqueViolation), and the transaction. Only when writesInline (no array-typed column).
   */
  writeStatements(
    documents: readonly Document[],
    origin: string,
    absent: ReadonlySet<string> = new Set(),
    keep: ReadonlyMap<string, ReadonlySet<number>> = new Map(),
  ): string[] {
    if (!this.batchable) throw new Error(`${this.mapping.table}: a table has an array-typed column; write it with writeMany`);
    const fresh = documents.filter((document) => absent.has(this.keyOf(document)));
    const present = fresh.length === 0 ? documents : documents.filter((document) => !absent.has(this.keyOf(document)));
    const statements: string[] = [];
    if (fresh.length) statements.push(inlined(this.statements.insertMainMany, columnsOf(fresh.map((document) => this.mainParams(document, origin)))));
    if (present.length) statements.push(inlined(this.statements.upsertMainMany, columnsOf(present.map((document) => this.mainParams(document, origin)))));
    for (const [index, { table, writeMany, removeMany, byPosition }] of this.statements.joined.entries()) {
      const changed = keep.size === 0 ? documents : documents.filter((document) => !keep.get(this.keyOf(document))?.has(index));
      if (changed.length === 0) continue;
      const rows: unknown[][] = [];
      if (byPosition) {
        const lengths: number[] = [];
        for (const document of changed) {
          const items = Array.isArray(document[table.as!]) ? (document[table.as!] as Document[]) : [];
          lengths.push(items.length);
          for (const [position, item] of items.entries()) rows.push([document[this.mapping.keyField], ...this.joinedParams(table, item), position]);
        }
        statements.push(inlined(byPosition.trim, [changed.map((document) => this.keyOf(document)), lengths]));
        if (rows.length) statements.push(inlined(byPosition.upsert, columnsOf(rows)));
        continue;
      }
      if (!table.as) {
        for (const document of changed) rows.push([document[this.mapping.keyField], ...this.joinedParams(table, document)]);
      } else {
        statements.push(inlined(removeMany, [changed.map((document) => this.keyOf(document))]));
        for (const document of changed) {
          const items = Array.isArray(document[table.as]) ? (document[table.as] as Document[]) : [];
          for (const [position, item] of items.entries()) rows.push([document[this.mapping.keyField], ...this.joinedParams(table, item), ...(table.positionColumn ? [position] : [])]);
        }
      }
      if (rows.length) statements.push(inlined(writeMany, columnsOf(rows)));
    }
    return statements;
  }

  /** Whether writeStatements can build this side's writes (no array-typed column). */
  get writesInline(): boolean {
    return this.batchable;
  }

  /** Deletes the aggregates of `keys` (keys as Postgres prints them): joined rows first, then the main row. */
  async deleteMany(client: ClientBase, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await runStatements(client, this.deleteStatements(keys));
  }

  /** deleteMany's statements, keys inlined. */
  deleteStatements(keys: readonly string[]): string[] {
    if (keys.length === 0) return [];
    return [...[...this.statements.joined].reverse().map(({ removeMany }) => inlined(removeMany, [keys])), inlined(this.statements.deleteMain, [keys])];
  }

  private mainParams(document: Document, origin: string): unknown[] {
    const main = this.mapping;
    const params = main.fields.map(({ field, column }) => toParameter(this.column(main.table, column).kind, document[field]));
    if (main.originColumn) params.push(origin);
    return params;
  }

  private joinedParams(table: JoinedTable, values: Document): unknown[] {
    return table.fields.map(({ field, column }) => toParameter(this.column(table.table, column).kind, values[field]));
  }

  /**
   * The document as verify compares it: every value in one representation, by the live type of its column.
   * `withoutVersion` leaves the version field out (a captured side has none to compare with).
   */
  normalized(document: Document, options: { withoutVersion?: boolean } = {}): Document {
    const result: Document = {};
    for (const { field, column } of this.mapping.fields) {
      if (options.withoutVersion && field === this.mapping.versionField) continue;
      result[field] = normalize(this.column(this.mapping.table, column).kind, document[field]);
    }
    for (const table of this.mapping.joined) {
      const one = (values: Document) => Object.fromEntries(table.fields.map(({ field, column }) => [field, normalize(this.column(table.table, column).kind, values[field])]));
      if (table.as) result[table.as] = (Array.isArray(document[table.as]) ? (document[table.as] as Document[]) : []).map(one);
      else Object.assign(result, one(document));
    }
    return result;
  }

  /** sha256 of the normalized document without its version: equal content, equal hash, whichever side it came from. */
  contentHash(document: Document): string {
    return createHash('sha256').update(JSON.stringify(this.normalized(document, { withoutVersion: true }))).digest('hex');
  }

  /**
   * The sync state's hash of a document: a 128-bit hash per part (the main table without the version, then each
   * joined table), joined with '.'. Equal content, equal hash; and the parts tell which tables changed.
   */
  partsHash(document: Document): string {
    const hash = (value: unknown) => sha256Hex(JSON.stringify(value)).slice(0, 32);
    const row = (fields: ReadonlyArray<{ field: string; kind: ColumnKind }>, values: Document) => {
      const normalized = new Array<unknown>(fields.length);
      for (let index = 0; index < fields.length; index += 1) normalized[index] = normalize(fields[index]!.kind, values[fields[index]!.field]);
      return normalized;
    };
    const { main, joined } = this.hashPlan;
    const parts = [hash(row(main, document))];
    for (const table of joined) {
      if (!table.as) {
        parts.push(hash(row(table.fields, document)));
        continue;
      }
      const items = Array.isArray(document[table.as]) ? (document[table.as] as Document[]) : [];
      parts.push(hash(items.map((item) => row(table.fields, item))));
    }
    return parts.join('.');
  }

  /** partsHash's fields and their kinds, resolved once. */
  private get hashPlan(): { main: Array<{ field: string; kind: ColumnKind }>; joined: Array<{ as?: string; fields: Array<{ field: string; kind: ColumnKind }> }> } {
    this.plan ??= {
      main: this.mapping.fields.filter(({ field }) => field !== this.mapping.versionField).map(({ field, column }) => ({ field, kind: this.column(this.mapping.table, column).kind })),
      joined: this.mapping.joined.map((table) => ({ as: table.as, fields: table.fields.map(({ field, column }) => ({ field, kind: this.column(table.table, column).kind })) })),
    };
    return this.plan;
  }
}

/** sha256 of a text in hex: Node's one-shot crypto.hash (20.12 on; about half the CPU for short texts), else a Hash. */
const sha256Hex: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => createHash('sha256').update(text).digest('hex');

/** The joined tables (by index) whose part of two partsHash values is the same: what a write can leave alone. */
export function unchangedJoined(before: string | null, after: string | null): Set<number> {
  const unchanged = new Set<number>();
  if (!before || !after) return unchanged;
  const old = before.split('.');
  const now = after.split('.');
  if (old.length !== now.length) return unchanged;
  for (let index = 1; index < now.length; index += 1) if (old[index] === now[index]) unchanged.add(index - 1);
  return unchanged;
}

/** Both sides of one aggregate, opened against their databases: what backfill, verify and apply work with. */
export interface AggregateStores {
  mapping: AggregateMapping;
  legacy: SideStore;
  service: SideStore;
}

export function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/**
 * A mapping's table name (`table` or `schema.table`) as a quoted SQL name. Unquoted SQL folds names to lower case,
 * so the parts are folded first: `Books` names the same table as before, and `public.order` works though `order`
 * is a reserved word.
 */
export function quoteTable(name: string): string {
  return name.split('.').map((part) => quote(part.toLowerCase())).join('.');
}

/** How an update treats a main table's columns: `insertOnly` are left alone, `lockVersion` is incremented. */
interface UpdateRules {
  insertOnly: readonly string[];
  lockVersion: string | undefined;
}

const PLAIN_UPDATES: UpdateRules = { insertOnly: [], lockVersion: undefined };

/** The SET list of an upsert's update, and the alias its target needs (to increment a lock version). */
function updateSet(keyColumn: string, columns: readonly string[], rules: UpdateRules): { alias: string; updates: string[] } {
  const updates = columns.filter((column) => column !== keyColumn && !rules.insertOnly.includes(column)).map((column) => `${quote(column)} = excluded.${quote(column)}`);
  if (!rules.lockVersion) return { alias: '', updates };
  return { alias: ' as target', updates: [...updates, `${quote(rules.lockVersion)} = target.${quote(rules.lockVersion)} + 1`] };
}

function upsert(table: string, keyColumn: string, columns: string[], rules: UpdateRules = PLAIN_UPDATES): string {
  const { alias, updates } = updateSet(keyColumn, columns, rules);
  const onConflict = updates.length ? `do update set ${updates.join(', ')}` : 'do nothing';
  return `${insertValues(table + alias, columns)} on conflict (${quote(keyColumn)}) ${onConflict}`;
}

function insertValues(table: string, columns: string[]): string {
  return `insert into ${table} (${columns.map(quote).join(', ')}) values (${columns.map((_, index) => `$${index + 1}`).join(', ')})`;
}

/**
 * A multi-row insert from one array parameter per column: `update` upserts by the key, `nothing` skips existing keys,
 * `none` has no conflict clause (many-row tables, whose rows were deleted first).
 */
function upsertUnnest(
  table: string,
  keyColumn: string,
  columns: Array<{ column: string; type: string }>,
  onConflict: 'update' | 'nothing' | 'none',
  rules: UpdateRules = PLAIN_UPDATES,
): string {
  const names = columns.map(({ column }) => quote(column));
  const source = `select * from unnest(${columns.map(({ type }, index) => `$${index + 1}::${type}[]`).join(', ')})`;
  const { alias, updates } = onConflict === 'update' ? updateSet(keyColumn, columns.map(({ column }) => column), rules) : { alias: '', updates: [] };
  const clause = onConflict === 'none' ? '' : onConflict === 'nothing' || updates.length === 0 ? ` on conflict (${quote(keyColumn)}) do nothing` : ` on conflict (${quote(keyColumn)}) do update set ${updates.join(', ')}`;
  return `insert into ${table}${alias} (${names.join(', ')}) ${source}${clause}`;
}

/** One value inside a Postgres array literal: NULL, or a double-quoted element with `"` and `\` escaped. */
function arrayElement(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  const text = value instanceof Date ? value.toISOString() : Buffer.isBuffer(value) ? `\\x${value.toString('hex')}` : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return `"${text.replace(/[\\"]/g, (match) => `\\${match}`)}"`;
}

/** A unique violation: a row the writer found absent was inserted meanwhile (or another unique index refuses it). */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === '23505';
}

/**
 * Runs statements in one round trip (the simple protocol takes several at once; values must be inlined) and
 * answers one result per statement, in order.
 */
export async function runStatements(client: Pick<ClientBase, 'query'>, statements: readonly string[]): Promise<Array<{ rowCount: number | null; rows: Array<Record<string, unknown>> }>> {
  if (statements.length === 0) return [];
  const answer = (await client.query(statements.join(';\n'))) as unknown as { rowCount: number | null; rows: Array<Record<string, unknown>> } | Array<{ rowCount: number | null; rows: Array<Record<string, unknown>> }>;
  return Array.isArray(answer) ? answer : [answer];
}

/** A statement with its `$n` array parameters replaced by escaped array literals (for the simple protocol). */
export function inlined(statement: string, parameters: ReadonlyArray<readonly unknown[]>): string {
  return statement.replace(/\$(\d+)::/g, (_, index: string) => `${escapeLiteral(`{${parameters[Number(index) - 1]!.map(arrayElement).join(',')}}`)}::`);
}

/** Rows of parameters -> one array per column (what `unnest` takes). */
function columnsOf(rows: unknown[][]): unknown[][] {
  const columns: unknown[][] = rows[0]!.map(() => []);
  for (const row of rows) for (const [index, value] of row.entries()) columns[index]!.push(value);
  return columns;
}

function stringOrUndefined(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}

async function liveColumns(pool: Queryable, table: string): Promise<Map<string, LiveColumn> | undefined> {
  const { rows } = await pool.query(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, t.typname, t.typcategory as category
       from pg_attribute a join pg_type t on t.oid = a.atttypid
      where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped
      order by a.attnum`,
    [quoteTable(table)],
  );
  if (rows.length === 0) {
    const exists = (await pool.query('select to_regclass($1) is not null as found', [quoteTable(table)])).rows[0].found as boolean;
    if (!exists) return undefined;
  }
  return new Map(
    rows.map((row: { name: string; type: string; typname: string; category: string }) => [
      row.name,
      { type: row.type.replace(/\(.*\)/, ''), sqlType: row.type, kind: kindOf(row.typname, row.category), array: row.category === 'A' },
    ]),
  );
}

async function hasUniqueIndex(pool: Queryable, table: string, column: string): Promise<boolean> {
  const { rows } = await pool.query(
    `select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
      where i.indrelid = to_regclass($1) and i.indisunique and i.indnkeyatts = 1 and a.attname = $2`,
    [quoteTable(table), column],
  );
  return rows.length > 0;
}

/** A unique index whose key columns are exactly `columns` (in any order). */
async function hasUniqueIndexOn(pool: Queryable, table: string, columns: string[]): Promise<boolean> {
  const { rows } = await pool.query(
    `select 1 from pg_index i
      where i.indrelid = to_regclass($1) and i.indisunique and i.indnkeyatts = cardinality($2::text[])
        and (select array_agg(a.attname::text order by a.attname) from pg_attribute a where a.attrelid = i.indrelid and a.attnum = any(i.indkey[0:i.indnkeyatts - 1]))
            = (select array_agg(c order by c) from unnest($2::text[]) c)`,
    [quoteTable(table), columns],
  );
  return rows.length > 0;
}

/** The columns a table's deletes log (its replica identity): FULL, or those of the primary key or chosen index. */
async function replicaIdentity(pool: Queryable, table: string): Promise<{ full: boolean; columns: string[] }> {
  const { rows } = await pool.query(
    `select c.relreplident as identity,
            coalesce((select array_agg(a.attname::text order by a.attnum)
                        from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                       where i.indrelid = c.oid and ((c.relreplident = 'd' and i.indisprimary) or (c.relreplident = 'i' and i.indisreplident))), '{}') as columns
       from pg_class c where c.oid = to_regclass($1)`,
    [quoteTable(table)],
  );
  const row = rows[0] as { identity: string; columns: string[] } | undefined;
  return { full: row?.identity === 'f', columns: row?.columns ?? [] };
}

/**
 * Runs `work` on a client of `pool`. When it throws, the client's transaction (a multi-statement query left open, or
 * the work's own) is rolled back; a client whose connection broke is destroyed rather than pooled again.
 */
export async function withPooledClient<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  const markBroken = () => (broken = true);
  client.on('error', markBroken);
  try {
    return await work(client);
  } catch (error) {
    await client.query('rollback').catch(() => (broken = true));
    throw error;
  } finally {
    client.off('error', markBroken);
    client.release(broken);
  }
}
