import type { MappingIssue } from './errors';
import type { ColumnField, SideMapping } from './options';

/** What the schema check needs of an engine's catalog; `C` is how the engine describes a column. */
export interface SchemaCatalog<C> {
  /** The table's columns by name, or undefined when the table does not exist. */
  liveColumns(table: string): Promise<Map<string, C> | undefined>;
  hasUniqueIndex(table: string, column: string): Promise<boolean>;
}

/**
 * Checks every table and column a side names against the live catalog, whatever the engine, and reports each problem
 * with its path under `at`: a missing table, a missing column (with the columns there are), a key without a unique
 * index. Answers the live columns of the tables that exist, for the engine's own checks of types.
 */
export async function checkSideTables<C>(catalog: SchemaCatalog<C>, mapping: SideMapping, at: string, issues: MappingIssue[]): Promise<Map<string, Map<string, C>>> {
  const columns = new Map<string, Map<string, C>>();
  const tables = [
    {
      table: mapping.table,
      at,
      uniqueKey: mapping.keyColumn as string | undefined,
      fields: mapping.fields,
      extra: [
        ...(mapping.originColumn ? [{ column: mapping.originColumn, at: `${at}.origin` }] : []),
        ...(mapping.lockVersionColumn ? [{ column: mapping.lockVersionColumn, at: `${at}.lockVersion` }] : []),
      ],
    },
    ...mapping.joined.map((table, index) => ({
      table: table.table,
      at: `${at}.joined.${index}`,
      uniqueKey: table.as ? undefined : table.keyColumn,
      fields: table.fields,
      extra: [{ column: table.keyColumn, at: `${at}.joined.${index}.key` }, ...(table.positionColumn ? [{ column: table.positionColumn, at: `${at}.joined.${index}.position` }] : [])],
    })),
  ];
  for (const entry of tables) {
    const live = await catalog.liveColumns(entry.table);
    if (!live) {
      issues.push({ path: `${entry.at}.table`, message: `table ${entry.table} does not exist` });
      continue;
    }
    columns.set(entry.table, live);
    const wanted = [...entry.fields.map((field: ColumnField) => ({ column: field.column, at: `${entry.at}.fields.${field.field}` })), ...entry.extra];
    for (const { column, at: where } of wanted) {
      if (!live.has(column)) issues.push({ path: where, message: `column ${entry.table}.${column} does not exist (columns: ${[...live.keys()].join(', ')})` });
    }
    if (entry.uniqueKey && live.has(entry.uniqueKey) && !(await catalog.hasUniqueIndex(entry.table, entry.uniqueKey))) {
      issues.push({ path: entry.table === mapping.table ? `${at}.key` : `${entry.at}.key`, message: `${entry.table}.${entry.uniqueKey} needs a primary key or unique index (rows are upserted by it)` });
    }
  }
  return columns;
}
