import type { ClientBase, Pool } from 'pg';
import type { MappingIssue } from './errors';
import type { AggregateMapping, ColumnField, JoinedTable, SideMapping } from './options';
import type { Document } from './translate';

/** Anything that runs a query: a pool for reads, a client inside a transaction. */
export type Queryable = Pool | ClientBase;

type ColumnKind = 'integer' | 'number' | 'timestamp' | 'json' | 'boolean' | 'text';

interface LiveColumn {
  type: string;
  kind: ColumnKind;
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

/** One representation per value, whatever side or driver it came from: what verify compares. */
function normalize(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'integer':
    case 'number':
      return Number(value);
    case 'timestamp':
      return (value instanceof Date ? value : new Date(String(value))).toISOString();
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

/**
 * One side's tables for one aggregate, checked against the live schema and with every statement built once:
 * read in key order (keyset pages), lock a row's version, write a document (main table, joined tables).
 */
export class SideStore {
  private readonly statements;

  private constructor(
    readonly mapping: SideMapping,
    private readonly columns: Map<string, Map<string, LiveColumn>>,
  ) {
    const main = mapping;
    const key = quote(main.keyColumn);
    const keyType = this.column(main.table, main.keyColumn).type;
    const collate = this.column(main.table, main.keyColumn).kind === 'text' && keyType !== 'uuid' ? ' collate "C"' : '';
    const selected = [...main.fields.map(({ column }) => quote(column)), ...(main.originColumn ? [quote(main.originColumn)] : [])];
    const insertColumns = [...main.fields.map(({ column }) => column), ...(main.originColumn ? [main.originColumn] : [])];
    this.statements = {
      firstPage: `select ${selected.join(', ')} from ${main.table} order by ${key}${collate} limit $1`,
      nextPage: `select ${selected.join(', ')} from ${main.table} where ${key}${collate} > $2 order by ${key}${collate} limit $1`,
      count: `select count(*)::bigint as count from ${main.table}`,
      lock: `select ${quote(main.versionColumn)} as version${main.originColumn ? `, ${quote(main.originColumn)} as origin` : ''} from ${main.table} where ${key} = $1 for update`,
      upsertMain: upsert(main.table, main.keyColumn, insertColumns),
      joined: mapping.joined.map((table) => {
        const joinedColumns = [...table.fields.map(({ column }) => column), ...(table.positionColumn ? [table.positionColumn] : [])];
        const order = table.positionColumn ? `, ${quote(table.positionColumn)}` : '';
        return {
          table,
          read: `select ${quote(table.keyColumn)} as key, ${table.fields.map(({ column }) => quote(column)).join(', ')} from ${table.table} where ${quote(table.keyColumn)} = any($1::${keyType}[]) order by ${quote(table.keyColumn)}${order}`,
          write: table.as
            ? upsertless(table.table, [table.keyColumn, ...joinedColumns])
            : upsert(table.table, table.keyColumn, [table.keyColumn, ...joinedColumns]),
          remove: `delete from ${table.table} where ${quote(table.keyColumn)} = $1`,
        };
      }),
    };
  }

  /**
   * Reads the live columns of every table the side names and reports, each with its path under `at`, a missing
   * table, a missing column, a version that is not an integer, or a key without a unique index.
   */
  static async open(pool: Queryable, mapping: SideMapping, at: string, issues: MappingIssue[]): Promise<SideStore | undefined> {
    const before = issues.length;
    const columns = new Map<string, Map<string, LiveColumn>>();
    const tables = [
      { table: mapping.table, at, uniqueKey: mapping.keyColumn, fields: mapping.fields, extra: mapping.originColumn ? [{ column: mapping.originColumn, at: `${at}.origin` }] : [] },
      ...mapping.joined.map((table, index) => ({
        table: table.table,
        at: `${at}.joined.${index}`,
        uniqueKey: table.as ? undefined : table.keyColumn,
        fields: table.fields,
        extra: [{ column: table.keyColumn, at: `${at}.joined.${index}.key` }, ...(table.positionColumn ? [{ column: table.positionColumn, at: `${at}.joined.${index}.position` }] : [])],
      })),
    ];
    for (const entry of tables) {
      const live = await liveColumns(pool, entry.table);
      if (!live) {
        issues.push({ path: `${entry.at}.table`, message: `table ${entry.table} does not exist` });
        continue;
      }
      columns.set(entry.table, live);
      const wanted = [...entry.fields.map((field: ColumnField) => ({ column: field.column, at: `${entry.at}.fields.${field.field}` })), ...entry.extra];
      for (const { column, at: where } of wanted) {
        if (!live.has(column)) issues.push({ path: where, message: `column ${entry.table}.${column} does not exist (columns: ${[...live.keys()].join(', ')})` });
      }
      if (entry.uniqueKey && live.has(entry.uniqueKey) && !(await hasUniqueIndex(pool, entry.table, entry.uniqueKey))) {
        issues.push({ path: entry.table === mapping.table ? `${at}.key` : `${entry.at}.key`, message: `${entry.table}.${entry.uniqueKey} needs a primary key or unique index (rows are upserted by it)` });
      }
    }
    const version = columns.get(mapping.table)?.get(mapping.versionColumn);
    if (version && version.kind !== 'integer') issues.push({ path: `${at}.version`, message: `${mapping.table}.${mapping.versionColumn} is ${version.type}; the version must be an integer column` });
    return issues.length > before ? undefined : new SideStore(mapping, columns);
  }

  private column(table: string, column: string): LiveColumn {
    return this.columns.get(table)!.get(column)!;
  }

  /** `integer` keys compare as numbers, others as strings (text keys are read in C collation to match). */
  get keyKind(): 'integer' | 'text' {
    return this.column(this.mapping.table, this.mapping.keyColumn).kind === 'integer' ? 'integer' : 'text';
  }

  async count(pool: Queryable): Promise<number> {
    return Number((await pool.query(this.statements.count)).rows[0].count);
  }

  /** Documents in key order, `chunkSize` per page, after `afterKey` when resuming; each with its stored origin. */
  async *pages(pool: Queryable, options: { chunkSize: number; afterKey?: string }): AsyncGenerator<Array<{ document: Document; origin: string | undefined }>> {
    let afterKey = options.afterKey;
    for (;;) {
      const { rows } = afterKey === undefined
        ? await pool.query(this.statements.firstPage, [options.chunkSize])
        : await pool.query(this.statements.nextPage, [options.chunkSize, afterKey]);
      if (rows.length === 0) return;
      const page = rows.map((row: Record<string, unknown>) => ({ document: this.fromRow(this.mapping.fields, row), origin: this.mapping.originColumn ? stringOrUndefined(row[this.mapping.originColumn]) : undefined }));
      await this.attachJoined(pool, page.map(({ document }) => document));
      yield page;
      afterKey = String(page[page.length - 1]!.document[this.mapping.keyField]);
      if (rows.length < options.chunkSize) return;
    }
  }

  private fromRow(fields: ColumnField[], row: Record<string, unknown>): Document {
    const document: Document = {};
    for (const { field, column } of fields) {
      const value = row[column];
      document[field] = value instanceof Date ? value.toISOString() : value;
    }
    return document;
  }

  private async attachJoined(pool: Queryable, documents: Document[]): Promise<void> {
    if (this.statements.joined.length === 0 || documents.length === 0) return;
    const byKey = new Map(documents.map((document) => [String(document[this.mapping.keyField]), document]));
    for (const { table, read } of this.statements.joined) {
      if (table.as) for (const document of documents) document[table.as] = [];
      const { rows } = await pool.query(read, [[...byKey.keys()]]);
      for (const row of rows as Array<Record<string, unknown>>) {
        const document = byKey.get(String(row.key));
        if (!document) continue;
        const values = this.fromRow(table.fields, row);
        if (table.as) (document[table.as] as Document[]).push(values);
        else Object.assign(document, values);
      }
    }
  }

  /** The stored version and origin of `key`, locked until the transaction ends; undefined when absent. */
  async lock(client: ClientBase, key: unknown): Promise<StoredVersion | undefined> {
    const row = (await client.query(this.statements.lock, [key])).rows[0] as { version: unknown; origin?: unknown } | undefined;
    return row ? { version: Number(row.version), origin: stringOrUndefined(row.origin) } : undefined;
  }

  /** Writes `document` over whatever the side stores for its key: main row, one-row tables, many-row tables replaced. */
  async write(client: ClientBase, document: Document, origin: string): Promise<void> {
    const main = this.mapping;
    const params = main.fields.map(({ field, column }) => toParameter(this.column(main.table, column).kind, document[field]));
    if (main.originColumn) params.push(origin);
    await client.query(this.statements.upsertMain, params);
    const key = document[main.keyField];
    for (const { table, write, remove } of this.statements.joined) {
      if (!table.as) {
        await client.query(write, [key, ...this.joinedParams(table, document)]);
        continue;
      }
      await client.query(remove, [key]);
      const items = Array.isArray(document[table.as]) ? (document[table.as] as Document[]) : [];
      for (const [index, item] of items.entries()) await client.query(write, [key, ...this.joinedParams(table, item), ...(table.positionColumn ? [index] : [])]);
    }
  }

  private joinedParams(table: JoinedTable, values: Document): unknown[] {
    return table.fields.map(({ field, column }) => toParameter(this.column(table.table, column).kind, values[field]));
  }

  /** The document as verify compares it: every value in one representation, by the live type of its column. */
  normalized(document: Document): Document {
    const result: Document = {};
    for (const { field, column } of this.mapping.fields) result[field] = normalize(this.column(this.mapping.table, column).kind, document[field]);
    for (const table of this.mapping.joined) {
      const one = (values: Document) => Object.fromEntries(table.fields.map(({ field, column }) => [field, normalize(this.column(table.table, column).kind, values[field])]));
      if (table.as) result[table.as] = (Array.isArray(document[table.as]) ? (document[table.as] as Document[]) : []).map(one);
      else Object.assign(result, one(document));
    }
    return result;
  }
}

/** Both sides of one aggregate, opened against their databases: what backfill, verify and apply work with. */
export interface AggregateStores {
  mapping: AggregateMapping;
  legacy: SideStore;
  service: SideStore;
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function upsert(table: string, keyColumn: string, columns: string[]): string {
  const placeholders = columns.map((_, index) => `$${index + 1}`);
  const updates = columns.filter((column) => column !== keyColumn).map((column) => `${quote(column)} = excluded.${quote(column)}`);
  const onConflict = updates.length ? `do update set ${updates.join(', ')}` : 'do nothing';
  return `insert into ${table} (${columns.map(quote).join(', ')}) values (${placeholders.join(', ')}) on conflict (${quote(keyColumn)}) ${onConflict}`;
}

function upsertless(table: string, columns: string[]): string {
  return `insert into ${table} (${columns.map(quote).join(', ')}) values (${columns.map((_, index) => `$${index + 1}`).join(', ')})`;
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
    [table],
  );
  if (rows.length === 0) {
    const exists = (await pool.query('select to_regclass($1) is not null as found', [table])).rows[0].found as boolean;
    if (!exists) return undefined;
  }
  return new Map(rows.map((row: { name: string; type: string; typname: string; category: string }) => [row.name, { type: row.type.replace(/\(.*\)/, ''), kind: kindOf(row.typname, row.category) }]));
}

async function hasUniqueIndex(pool: Queryable, table: string, column: string): Promise<boolean> {
  const { rows } = await pool.query(
    `select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
      where i.indrelid = to_regclass($1) and i.indisunique and i.indnkeyatts = 1 and a.attname = $2`,
    [table, column],
  );
  return rows.length > 0;
}
