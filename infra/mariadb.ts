import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { InfraError } from './errors';
import { retrying, sleep, tcpReachable } from './process';
import type { ServiceStatus } from './types';

/** What mariadbUp found (MariaDB is the machine's: infra never starts or stops it). */
export type MariadbStatus = Omit<ServiceStatus, 'name'> & { name: 'mariadb' };

/** The machine's MariaDB (or MySQL): root without a password on 127.0.0.1:3306, unless MYSQL_URL names another. */
export const DEFAULT_MYSQL_URL = 'mysql://root@127.0.0.1:3306/';

/** What binlog capture needs of the server; everything but log_bin can also be set at run time. */
const REQUIRED: { name: string; value: string; satisfiedBy(current: string): boolean }[] = [
  { name: 'log_bin', value: 'ON', satisfiedBy: (current) => current === 'ON' },
  { name: 'binlog_format', value: 'ROW', satisfiedBy: (current) => current === 'ROW' },
  { name: 'binlog_row_image', value: 'FULL', satisfiedBy: (current) => current === 'FULL' },
  { name: 'server_id', value: '1', satisfiedBy: (current) => Number(current) > 0 },
];

/** The settings file infra writes; Debian's my.cnf reads this directory (infra adds the include when it does not). */
export const MARIADB_CONF_DIR = '/etc/mysql/mariadb.conf.d';
export const MARIADB_BINLOG_CONF = path.join(MARIADB_CONF_DIR, '60-strangler-binlog.cnf');
const MY_CNF = '/etc/mysql/my.cnf';

const BINLOG_CONF = `# Written by strangler-fig's infra (npm run infra -- up, or the test setup): binlog capture needs a row-based
# binlog with full row images. Remove this file and restart MariaDB to turn it off again.
[mariadbd]
log_bin = mariadb-bin
binlog_format = ROW
binlog_row_image = FULL
server_id = 1
# Seven days of binlog, then the server removes it (a relay stopped for longer starts from a purged position).
binlog_expire_logs_seconds = 604800
`;

export interface MariadbEnvironment {
  url: string;
  /** MYSQL_URL was set: the server is only checked, never reconfigured. */
  external: boolean;
}

export function mariadbEnvironment(env: NodeJS.ProcessEnv = process.env): MariadbEnvironment {
  return { url: env.MYSQL_URL || DEFAULT_MYSQL_URL, external: Boolean(env.MYSQL_URL) };
}

function address(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || 3306}`;
}

async function variables(url: string): Promise<{ settings: Map<string, string>; version: string }> {
  const connection = await mysql.createConnection({ uri: url, connectTimeout: 5000 });
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      `show global variables where Variable_name in (${REQUIRED.map(() => '?').join(',')})`,
      REQUIRED.map((required) => required.name),
    );
    const [version] = await connection.query<mysql.RowDataPacket[]>('select version() as version');
    return { settings: new Map(rows.map((row) => [String(row.Variable_name), String(row.Value)])), version: String(version[0]!.version) };
  } finally {
    await connection.end().catch(() => undefined);
  }
}

function variablesRetrying(url: string, timeoutMs: number): ReturnType<typeof variables> {
  return retrying('mariadb', () => variables(url), {
    address: address(url),
    timeoutMs,
    intervalMs: 250,
    retryOn: (error) => /ECONNREFUSED|ECONNRESET|ETIMEDOUT|PROTOCOL_CONNECTION_LOST|ER_SERVER_SHUTDOWN|shutdown in progress/i.test(String((error as { code?: string }).code ?? error)),
  });
}

/** Stops the local server with SHUTDOWN and starts it the way this machine does (systemd, else start-stop-daemon, else the init script). */
async function restartLocalServer(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  if (fs.existsSync('/run/systemd/system')) {
    const restart = spawnSync('systemctl', ['restart', 'mariadb'], { encoding: 'utf8' });
    if (restart.status === 0) return;
  }
  const connection = await mysql.createConnection({ uri: url, connectTimeout: 5000 });
  await connection.query('shutdown').catch(() => undefined);
  connection.destroy();
  const deadline = Date.now() + 60_000;
  while (await tcpReachable(hostname, Number(port || 3306))) {
    if (Date.now() > deadline) throw new InfraError('SFG_INFRA_MYSQL_CONFIG', `mariadb: still answering on ${address(url)} 60 s after SHUTDOWN`);
    await sleep(200);
  }
  // The server's pid file is removed last; starting before that makes the new one refuse it.
  while (fs.existsSync('/run/mysqld/mysqld.pid') && Date.now() < deadline) await sleep(100);
  const attempts: [string, string[]][] = [
    ['start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd']],
    ['service', ['mariadb', 'start']],
  ];
  const failures: string[] = [];
  for (const [command, args] of attempts) {
    const started = spawnSync(command, args, { encoding: 'utf8' });
    if (started.status === 0) return;
    failures.push(`${command} ${args.join(' ')}: ${started.stderr?.trim() || started.error?.message || `exit ${started.status}`}`);
  }
  throw new InfraError('SFG_INFRA_MYSQL_CONFIG', `mariadb: could not start it again (${failures.join('; ')}); start MariaDB yourself`);
}

/** Writes the settings file, and adds `!includedir` of its directory to my.cnf when my.cnf does not read it. */
function writeBinlogConf(): void {
  fs.mkdirSync(MARIADB_CONF_DIR, { recursive: true });
  fs.writeFileSync(MARIADB_BINLOG_CONF, BINLOG_CONF);
  const myCnf = fs.existsSync(MY_CNF) ? fs.readFileSync(MY_CNF, 'utf8') : '';
  if (!/^!includedir\s+\/etc\/mysql\/mariadb\.conf\.d\/?\s*$/m.test(myCnf)) {
    fs.writeFileSync(MY_CNF, `${myCnf.replace(/\n*$/, '\n')}\n# Added by strangler-fig's infra: read ${MARIADB_CONF_DIR}\n!includedir ${MARIADB_CONF_DIR}/\n`);
  }
}

/**
 * Makes sure the local MariaDB writes a row-based binlog with full row images (what binlog capture needs). When it
 * does not, infra writes MARIADB_BINLOG_CONF, restarts the server and says so in one line; nothing happens when it
 * already does. A server named by MYSQL_URL is only checked.
 */
export async function mariadbUp(env: MariadbEnvironment, log: (line: string) => void): Promise<MariadbStatus> {
  const where = address(env.url);
  const { settings, version } = await variablesRetrying(env.url, 15_000).catch((error: Error) => {
    throw new InfraError('SFG_INFRA_START_FAILED', `${error.message}; start MariaDB 10.5+ or MySQL 8.0+, or set MYSQL_URL`, { cause: error });
  });
  const missing = REQUIRED.filter((required) => !required.satisfiedBy(settings.get(required.name) ?? ''));
  const detail = () => `${version}, ${REQUIRED.map((required) => `${required.name}=${required.value}`).join(' ')}`;
  if (missing.length === 0) return { name: 'mariadb', address: where, healthy: true, startedByUs: false, startedNow: false, detail: detail() };
  const found = missing.map((required) => `${required.name} is '${settings.get(required.name) ?? ''}'`).join(', ');
  const wanted = missing.map((required) => `${required.name}=${required.value}`).join(', ');
  if (env.external) {
    throw new InfraError('SFG_INFRA_MYSQL_CONFIG', `mariadb: ${found} on ${where}; binlog capture needs ${wanted} (in the server's configuration, then restart)`);
  }
  log(`mariadb: ${found}; writing ${MARIADB_BINLOG_CONF} (${wanted}) and restarting MariaDB`);
  writeBinlogConf();
  await restartLocalServer(env.url);
  const after = await variablesRetrying(env.url, 60_000);
  const still = REQUIRED.filter((required) => !required.satisfiedBy(after.settings.get(required.name) ?? ''));
  if (still.length > 0) {
    throw new InfraError(
      'SFG_INFRA_MYSQL_CONFIG',
      `mariadb: restarted, but ${still.map((required) => `${required.name} is '${after.settings.get(required.name) ?? ''}'`).join(', ')}: another option file overrides ${MARIADB_BINLOG_CONF}`,
    );
  }
  return { name: 'mariadb', address: where, healthy: true, startedByUs: false, startedNow: false, detail: detail() };
}
