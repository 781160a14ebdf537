import { CapturePreflightError, type PreflightProblem } from './errors';

/** What the preflight needs of a MySQL connection: mysql2's promise `query`. */
export interface MysqlQueryable {
  query(sql: string, values?: unknown[]): Promise<[unknown, unknown]>;
}

export interface BinlogCapturedTable {
  db: string;
  table: string;
  primaryKey: string[];
}

/** The server and the captured tables, as the preflight found them. */
export interface BinlogCatalog {
  /** mysql or mariadb: Debezium's source.connector for that server. */
  flavour: 'mysql' | 'mariadb';
  version: string;
  /** `db.table` -> the table */
  tables: Map<string, BinlogCapturedTable>;
  /**
   * What capture works without but loop-free write-back needs: SFG_CAPTURE_ANNOTATE_OFF when MariaDB's
   * binlog_annotate_row_events is OFF (the relay logs each at start).
   */
  warnings: PreflightProblem[];
}

type Row = Record<string, unknown>;

async function rows(connection: MysqlQueryable, sql: string, values?: unknown[]): Promise<Row[]> {
  const [result] = await connection.query(sql, values);
  return result as Row[];
}

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/** Whether SHOW GRANTS lines give every privilege in `needed` (any of its spellings) on *.*. */
function missingGlobalPrivileges(grants: string[], needed: string[][]): string[][] {
  const global = grants
    .map((grant) => /^GRANT (.+?) ON \*\.\* TO /i.exec(grant)?.[1]?.toUpperCase())
    .filter((privileges): privileges is string => privileges !== undefined)
    .flatMap((privileges) => privileges.split(',').map((privilege) => privilege.trim()));
  if (global.includes('ALL PRIVILEGES')) return [];
  return needed.filter((spellings) => !spellings.some((spelling) => global.includes(spelling)));
}

/**
 * Checks that the server can be captured from its binlog and reports every missing piece at once, each with what
 * to run: the binlog on (SFG_CAPTURE_BINLOG_OFF), row-based (SFG_CAPTURE_BINLOG_FORMAT) with full row images
 * (SFG_CAPTURE_BINLOG_ROW_IMAGE), nothing the reader cannot decode (SFG_CAPTURE_BINLOG_COMPRESSION,
 * SFG_CAPTURE_PARTIAL_JSON), the user's REPLICATION SLAVE and REPLICATION CLIENT (SFG_CAPTURE_PRIVILEGE), and each
 * table a base table (SFG_CAPTURE_TABLE_MISSING, SFG_CAPTURE_NOT_A_TABLE) with a primary key
 * (SFG_CAPTURE_NO_PRIMARY_KEY). `tables` are `db.table`. What only loop-free write-back needs is a warning in the
 * catalog, not a refusal (SFG_CAPTURE_ANNOTATE_OFF): capture alone works without it.
 */
export async function binlogPreflight(connection: MysqlQueryable, tables: { db: string; table: string }[]): Promise<BinlogCatalog> {
  const problems: PreflightProblem[] = [];
  const variables = new Map(
    (
      await rows(
        connection,
        `show global variables where Variable_name in ('log_bin', 'binlog_format', 'binlog_row_image', 'server_id', 'version',
          'binlog_transaction_compression', 'binlog_row_value_options', 'binlog_annotate_row_events')`,
      )
    ).map((row) => [String(row.Variable_name), String(row.Value)]),
  );
  const version = variables.get('version') ?? '';
  const flavour = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  const config = flavour === 'mariadb' ? "the server's option file ([mariadbd] section)" : "the server's option file ([mysqld] section)";
  if (variables.get('log_bin') !== 'ON') {
    problems.push({
      code: 'SFG_CAPTURE_BINLOG_OFF',
      message: `the binlog is off (log_bin=${variables.get('log_bin') ?? '?'}): add log_bin=mysql-bin, binlog_format=ROW, binlog_row_image=FULL and a server_id to ${config}, then restart the server`,
    });
  }
  if (variables.get('binlog_format') !== 'ROW') {
    problems.push({
      code: 'SFG_CAPTURE_BINLOG_FORMAT',
      message: `binlog_format is ${variables.get('binlog_format') ?? '?'}, capture needs ROW: run SET GLOBAL binlog_format = 'ROW' (sessions opened before keep theirs) and set binlog_format=ROW in ${config}`,
    });
  }
  if (variables.get('binlog_row_image') !== 'FULL') {
    problems.push({
      code: 'SFG_CAPTURE_BINLOG_ROW_IMAGE',
      message: `binlog_row_image is ${variables.get('binlog_row_image') ?? '?'}, capture needs FULL (every column in before and after): run SET GLOBAL binlog_row_image = 'FULL' and set binlog_row_image=FULL in ${config}`,
    });
  }
  if (variables.get('binlog_transaction_compression') === 'ON') {
    problems.push({
      code: 'SFG_CAPTURE_BINLOG_COMPRESSION',
      message: "binlog_transaction_compression is ON: the binlog reader cannot decode compressed transactions; run SET GLOBAL binlog_transaction_compression = OFF (and in the option file)",
    });
  }
  if (/PARTIAL_JSON/i.test(variables.get('binlog_row_value_options') ?? '')) {
    problems.push({
      code: 'SFG_CAPTURE_PARTIAL_JSON',
      message: "binlog_row_value_options is PARTIAL_JSON: the binlog reader cannot decode partial JSON updates; run SET GLOBAL binlog_row_value_options = ''",
    });
  }

  const warnings: PreflightProblem[] = [];
  if (flavour === 'mariadb' && variables.get('binlog_annotate_row_events') === 'OFF') {
    warnings.push({
      code: 'SFG_CAPTURE_ANNOTATE_OFF',
      message:
        'binlog_annotate_row_events is OFF: the binlog holds no statement text, so write-backs marked with mysqlOriginComment are not recognised ' +
        "and echo, unless their session sets it (prepareMysqlOriginSession, needs BINLOG ADMIN); run SET GLOBAL binlog_annotate_row_events = ON (and in the option file)",
    });
  }

  const [user] = await rows(connection, 'select current_user() as user');
  const [name = '', host = '%'] = String(user?.user ?? '').split('@');
  const grants = (await rows(connection, 'show grants for current_user()')).map((row) => String(Object.values(row)[0]));
  // MariaDB 10.5+ shows REPLICATION CLIENT as BINLOG MONITOR; REPLICA is MySQL 8's newer spelling of SLAVE.
  const missing = missingGlobalPrivileges(grants, [
    ['REPLICATION SLAVE', 'REPLICATION REPLICA'],
    ['REPLICATION CLIENT', 'BINLOG MONITOR'],
  ]);
  if (missing.length > 0) {
    problems.push({
      code: 'SFG_CAPTURE_PRIVILEGE',
      message: `user '${name}'@'${host}' lacks ${missing.map((spellings) => spellings[0]).join(' and ')}: run GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${name}'@'${host}'`,
    });
  }

  const found = new Map<string, BinlogCapturedTable>();
  for (const { db, table } of tables) {
    const label = `${db}.${table}`;
    const [described] = await rows(connection, 'select table_type as type from information_schema.tables where table_schema = ? and table_name = ?', [db, table]);
    if (!described) {
      problems.push({
        code: 'SFG_CAPTURE_TABLE_MISSING',
        table: label,
        message: `table ${label} does not exist, or user '${name}'@'${host}' cannot see it: check the name, or run GRANT SELECT ON ${quote(db)}.${quote(table)} TO '${name}'@'${host}'`,
      });
      continue;
    }
    if (described.type !== 'BASE TABLE') {
      problems.push({ code: 'SFG_CAPTURE_NOT_A_TABLE', table: label, message: `${label} is a ${String(described.type).toLowerCase()}, not a table: only tables' rows are in the binlog` });
      continue;
    }
    const key = (
      await rows(
        connection,
        `select column_name as name from information_schema.key_column_usage
         where table_schema = ? and table_name = ? and constraint_name = 'PRIMARY' order by ordinal_position`,
        [db, table],
      )
    ).map((row) => String(row.name));
    if (key.length === 0) {
      problems.push({
        code: 'SFG_CAPTURE_NO_PRIMARY_KEY',
        table: label,
        message: `table ${label} has no primary key, so its changes have no Kafka key: run ALTER TABLE ${quote(db)}.${quote(table)} ADD PRIMARY KEY (<columns>)`,
      });
      continue;
    }
    found.set(label, { db, table, primaryKey: key });
  }
  if (problems.length > 0) throw new CapturePreflightError(problems);
  return { flavour, version, tables: found, warnings };
}
