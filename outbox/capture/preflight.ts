import type { ColumnType } from './envelope';
import { CapturePreflightError, type PreflightProblem } from './errors';
import { parseTableName, type TableName } from './options';

/** What the preflight reads with: a pg Client or Pool. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/** A column as the capture encodes it: its type with domains resolved. */
export interface CapturedColumn extends ColumnType {
  name: string;
  notNull: boolean;
}

/** A table that passed the preflight. */
export interface CapturedTable extends TableName {
  /** `schema.table`. */
  qualifiedName: string;
  /** Primary key columns in the key's order: the record key, as Debezium's. */
  primaryKey: string[];
  columns: Map<string, CapturedColumn>;
  owned: boolean;
}

export interface CaptureCatalog {
  database: string;
  role: string;
  /** By `schema.table`. */
  tables: Map<string, CapturedTable>;
  publication: {
    exists: boolean;
    /** Whether this role owns it (may alter it and set its comment). */
    owned: boolean;
    comment: string | null;
    /** Configured tables it does not publish yet (this role will add them: it owns the publication and the tables). */
    missing: TableName[];
  };
  slotExists: boolean;
  /** Whether any table is partitioned (the publication then publishes through the root). */
  partitioned: boolean;
}

/** `"name"` with embedded quotes doubled: captured names are taken as they are, case and all. */
export function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualifiedName({ schema, table }: TableName): string {
  return `${quoteName(schema)}.${quoteName(table)}`;
}

const display = ({ schema, table }: TableName) => `${schema}.${table}`;

interface Settings extends Record<string, unknown> {
  wal_level: string;
  database: string;
  role: string;
  can_replicate: boolean;
  can_create: boolean;
  max_slots: number;
  used_slots: number;
  slot_exists: boolean;
  version: number;
}

/**
 * Checks that the database can be captured as configured, reporting every problem at once (CapturePreflightError),
 * and reads what the capture needs: primary keys, column types, the publication's state. Runs as the relay's role:
 * the privileges checked are its own.
 */
export async function preflight(
  db: Queryable,
  options: { tables: string[]; publicationName: string; slotName: string },
): Promise<CaptureCatalog> {
  const problems: PreflightProblem[] = [];
  const names = options.tables.map(parseTableName);
  const [settings] = (
    await db.query<Settings>(
      `select current_setting('wal_level') as wal_level, current_database() as database, current_user as role,
         (r.rolsuper or r.rolreplication) as can_replicate, has_database_privilege(current_database(), 'CREATE') as can_create,
         current_setting('max_replication_slots')::int as max_slots, (select count(*)::int from pg_replication_slots) as used_slots,
         exists (select 1 from pg_replication_slots where slot_name = $1) as slot_exists,
         current_setting('server_version_num')::int as version
       from pg_roles r where r.rolname = current_user`,
      [options.slotName],
    )
  ).rows as [Settings];
  if (settings.wal_level !== 'logical') {
    problems.push({
      code: 'SFG_CAPTURE_WAL_LEVEL',
      message: `wal_level is '${settings.wal_level}': capturing tables needs 'logical'. Run \`ALTER SYSTEM SET wal_level = logical;\` as a superuser and restart Postgres (a managed service sets it in its parameter group, e.g. rds.logical_replication = 1)`,
    });
  }
  if (!settings.can_replicate) {
    problems.push({
      code: 'SFG_CAPTURE_PRIVILEGE',
      message: `role "${settings.role}" may not stream a replication slot: run \`ALTER ROLE ${quoteName(settings.role)} REPLICATION;\` as a superuser (or connect as a role that has it)`,
    });
  }
  if (!settings.slot_exists && settings.used_slots >= settings.max_slots) {
    problems.push({
      code: 'SFG_CAPTURE_NO_FREE_SLOT',
      message: `all ${settings.max_slots} replication slots (max_replication_slots) are taken: drop an unused one (pg_drop_replication_slot) or raise max_replication_slots and restart Postgres`,
    });
  }

  const found = (
    await db.query<{ schema: string; name: string; oid: number | null; relkind: string | null; identity: string | null; owned: boolean | null; owner: string | null }>(
      `select t.schema, t.name, c.oid::int as oid, c.relkind::text as relkind, c.relreplident::text as identity,
         pg_has_role(c.relowner, 'USAGE') as owned, pg_get_userbyid(c.relowner)::text as owner
       from unnest($1::text[], $2::text[]) with ordinality as t(schema, name, position)
       left join pg_namespace n on n.nspname = t.schema
       left join pg_class c on c.relnamespace = n.oid and c.relname = t.name
       order by t.position`,
      [names.map((name) => name.schema), names.map((name) => name.table)],
    )
  ).rows;
  const present = found.filter((row) => {
    const name = `${row.schema}.${row.name}`;
    if (row.oid === null) {
      problems.push({ code: 'SFG_CAPTURE_TABLE_MISSING', table: name, message: `table ${name} does not exist (names are case-sensitive: check capture.tables / --tables, and that the role can see the schema)` });
      return false;
    }
    if (row.relkind !== 'r' && row.relkind !== 'p') {
      problems.push({ code: 'SFG_CAPTURE_NOT_A_TABLE', table: name, message: `${name} is not a table (relkind '${row.relkind}'): only tables can be captured; name the tables under it` });
      return false;
    }
    return true;
  });
  const oids = present.map((row) => row.oid!);
  const keys = (
    await db.query<{ oid: number; is_primary: boolean; is_identity: boolean; column: string }>(
      `select i.indrelid::int as oid, i.indisprimary as is_primary, i.indisreplident as is_identity, a.attname::text as column
       from pg_index i cross join lateral unnest(i.indkey::int2[]) with ordinality as k(attnum, position)
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
       where i.indrelid = any($1::oid[]) and (i.indisprimary or i.indisreplident)
       order by i.indrelid, k.position`,
      [oids],
    )
  ).rows;
  const columns = (
    await db.query<{ oid: number; name: string; not_null: boolean; type_oid: number; type_mod: number; element_oid: number | null }>(
      `with resolved as (
         select a.attrelid, a.attnum, a.attname, a.attnotnull,
           case when t.typtype = 'd' then t.typbasetype else a.atttypid end as type_oid,
           case when t.typtype = 'd' then t.typtypmod else a.atttypmod end as type_mod
         from pg_attribute a join pg_type t on t.oid = a.atttypid
         where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped)
       select r.attrelid::int as oid, r.attname::text as name, r.attnotnull as not_null, r.type_oid::int as type_oid, r.type_mod,
         case when bt.typcategory = 'A' and bt.typelem <> 0 then (case when et.typtype = 'd' then et.typbasetype else et.oid end)::int end as element_oid
       from resolved r join pg_type bt on bt.oid = r.type_oid left join pg_type et on et.oid = bt.typelem
       order by r.attrelid, r.attnum`,
      [oids],
    )
  ).rows;

  const tables = new Map<string, CapturedTable>();
  let partitioned = false;
  for (const row of present) {
    const name = `${row.schema}.${row.name}`;
    const primaryKey = keys.filter((key) => key.oid === row.oid && key.is_primary).map((key) => key.column);
    const identityIndex = keys.filter((key) => key.oid === row.oid && key.is_identity && !key.is_primary).map((key) => key.column);
    const target = qualifiedName({ schema: row.schema, table: row.name });
    if (primaryKey.length === 0) {
      problems.push({
        code: 'SFG_CAPTURE_NO_PRIMARY_KEY',
        table: name,
        message:
          `table ${name} has no primary key: its records would have no key (Debezium keys them by the primary key) and its updates and deletes ` +
          `could not be told apart. Add one (\`ALTER TABLE ${target} ADD PRIMARY KEY (<columns>);\`) or leave the table out; ` +
          'REPLICA IDENTITY FULL gives before images, not a key',
      });
    } else if (row.identity === 'n') {
      problems.push({
        code: 'SFG_CAPTURE_REPLICA_IDENTITY',
        table: name,
        message: `table ${name} has REPLICA IDENTITY NOTHING: once published, its updates and deletes would fail. Run \`ALTER TABLE ${target} REPLICA IDENTITY DEFAULT;\` (or FULL for whole before images)`,
      });
    } else if (row.identity === 'i' && !primaryKey.every((column) => identityIndex.includes(column))) {
      problems.push({
        code: 'SFG_CAPTURE_REPLICA_IDENTITY',
        table: name,
        message: `table ${name}'s replica identity index does not hold its primary key (${primaryKey.join(', ')}): a delete would arrive without its key. Run \`ALTER TABLE ${target} REPLICA IDENTITY DEFAULT;\` (or FULL)`,
      });
    }
    if (row.relkind === 'p') partitioned = true;
    const tableColumns = new Map<string, CapturedColumn>();
    for (const column of columns) {
      if (column.oid !== row.oid) continue;
      tableColumns.set(column.name, {
        name: column.name,
        notNull: column.not_null,
        oid: column.type_oid,
        typeMod: column.type_mod,
        ...(column.element_oid !== null ? { elementOid: column.element_oid } : {}),
      });
    }
    tables.set(name, { schema: row.schema, table: row.name, qualifiedName: name, primaryKey, columns: tableColumns, owned: row.owned === true });
  }

  const publication = await publicationState(db, options.publicationName, [...tables.values()], settings, problems);
  if (problems.length > 0) throw new CapturePreflightError(problems);
  return { database: settings.database, role: settings.role, tables, publication, slotExists: settings.slot_exists, partitioned };
}

/** The publication's state; a missing or incomplete one this role cannot create or complete is a problem naming the statement to run. */
async function publicationState(
  db: Queryable,
  publicationName: string,
  tables: CapturedTable[],
  settings: Settings,
  problems: PreflightProblem[],
): Promise<CaptureCatalog['publication']> {
  const [existing] = (
    await db.query<{ pubinsert: boolean; pubupdate: boolean; pubdelete: boolean; alltables: boolean; owned: boolean; comment: string | null }>(
      `select p.pubinsert, p.pubupdate, p.pubdelete, p.puballtables as alltables, pg_has_role(p.pubowner, 'USAGE') as owned,
         obj_description(p.oid, 'pg_publication') as comment
       from pg_publication p where p.pubname = $1`,
      [publicationName],
    )
  ).rows;
  const publication = quoteName(publicationName);
  const list = (of: CapturedTable[]) => of.map(qualifiedName).join(', ');
  const notOwned = tables.filter((table) => !table.owned);
  if (!existing) {
    if (tables.length > 0 && (notOwned.length > 0 || !settings.can_create)) {
      const why = notOwned.length > 0
        ? `creating a publication for a table needs ownership of it, and role "${settings.role}" does not own ${notOwned.map(display).join(', ')}`
        : `role "${settings.role}" lacks CREATE on database "${settings.database}"`;
      problems.push({
        code: 'SFG_CAPTURE_PRIVILEGE',
        ...(notOwned.length > 0 ? { table: display(notOwned[0]!) } : {}),
        message: `${why}. Have the tables' owner (or a superuser) run \`CREATE PUBLICATION ${publication} FOR TABLE ${list(tables)};\` (any name will do: pass it as publicationName / --publication)`,
      });
    }
    return { exists: false, owned: true, comment: null, missing: [] };
  }
  const publishes = ['insert', 'update', 'delete'].filter((operation) => !existing[`pub${operation}` as 'pubinsert']);
  if (publishes.length > 0) {
    problems.push({
      code: 'SFG_CAPTURE_PUBLICATION',
      message: `publication "${publicationName}" does not publish ${publishes.join(', ')}: have its owner run \`ALTER PUBLICATION ${publication} SET (publish = 'insert, update, delete, truncate');\``,
    });
  }
  const filtersRows = settings.version >= 150_000 ? ', rowfilter is not null as filtered, attnames::text[] as columns' : '';
  const published = (
    await db.query<{ schema: string; name: string; filtered?: boolean; columns?: string[] }>(
      `select schemaname::text as schema, tablename::text as name${filtersRows} from pg_publication_tables where pubname = $1`,
      [publicationName],
    )
  ).rows;
  const missing: CapturedTable[] = [];
  for (const table of tables) {
    const entry = published.find((row) => row.schema === table.schema && row.name === table.table);
    if (!entry) missing.push(table);
    else if (entry.filtered) {
      problems.push({ code: 'SFG_CAPTURE_PUBLICATION', table: display(table), message: `publication "${publicationName}" filters the rows of ${display(table)} (a WHERE clause): changes would be missing. Have its owner run \`ALTER PUBLICATION ${publication} SET TABLE …\` without the WHERE` });
    } else if (entry.columns && !table.primaryKey.every((column) => entry.columns!.includes(column))) {
      problems.push({ code: 'SFG_CAPTURE_PUBLICATION', table: display(table), message: `publication "${publicationName}" leaves primary key columns of ${display(table)} out of its column list: records would have no key. Have its owner publish the whole table` });
    }
  }
  if (missing.length > 0 && (!existing.owned || missing.some((table) => !table.owned) || existing.alltables)) {
    problems.push({
      code: 'SFG_CAPTURE_PUBLICATION',
      table: display(missing[0]!),
      message: `publication "${publicationName}" does not publish ${missing.map(display).join(', ')}: have its owner run \`ALTER PUBLICATION ${publication} ADD TABLE ${list(missing)};\``,
    });
  }
  return { exists: true, owned: existing.owned, comment: existing.comment, missing };
}
