import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { InfraError } from './errors';
import { DEFAULT_MYSQL_URL } from './mariadb';
import { infraPaths, ROOT_DIR, type InfraPaths } from './options';
import { installDebianPackages } from './packages';
import { httpOk, logFile, retrying, startDaemon, startedPid, stopDaemon, withLockFile } from './process';
import type { ServiceStatus } from './types';

/**
 * WordPress 6.1 as Debian ships it, on the machine's MariaDB, served by PHP's built-in server (`php -S` with a router
 * script doing what Debian's Apache example does), for the example whose posts move to a service on Postgres. Not
 * one of the default services: only the tests that need it and `infra up wordpress` start it.
 *
 * Why `php -S`: no web server to configure as root (Apache comes in as the package's dependency, but is neither
 * configured nor run), one process of ours with a pid file, and PHP_CLI_SERVER_WORKERS for concurrent requests.
 *
 * Configuration only: /etc/wordpress/config-<name>.php (which Debian's wp-config.php reads, named by the router's
 * WORDPRESS_CONFIG), a database and user on MariaDB, and WordPress's own installer and settings API
 * (examples/wordpress/wordpress-config/setup.php). WordPress's code is not changed.
 */
export const WORDPRESS_PACKAGES = ['wordpress', 'wordpress-theme-twentytwentythree', 'php8.2-cli', 'php8.2-mysql'] as const;
export const WORDPRESS_DEFAULTS = {
  name: 'wordpress',
  port: 3300,
  database: 'strangler_wordpress',
  users: 4,
  workers: 4,
  startTimeoutMs: 30_000,
  setupTimeoutMs: 120_000,
  installTimeoutMs: 900_000,
} as const;

export const WORDPRESS_CONFIG_DIR = path.join(ROOT_DIR, 'examples', 'wordpress', 'wordpress-config');
const PACKAGE_DIR = '/usr/share/wordpress';
const ETC_DIR = '/etc/wordpress';

export interface WordpressOptions {
  /** Resolves MYSQL_URL (WordPress's database lives on that server; an admin account) and XDG_CACHE_HOME. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where the pid file and the server's log go (default: the checkout's `.infra/`). */
  paths?: InfraPaths;
  /** Pid and log file, and /etc/wordpress/config-<name>.php (letters, digits and -, as Debian's wp-config.php wants). Default `wordpress`. */
  name?: string;
  /** Port on 127.0.0.1. Default 3300. */
  port?: number;
  /** WordPress's database on MYSQL_URL's server, and its user (of the same name). Default `strangler_wordpress`. */
  database?: string;
  /** Editors `writer1`..`writerN`, each with an application password (the admin has one too). Default 4. */
  users?: number;
  /** Where the credentials live. Default `~/.cache/strangler-fig/wordpress`. */
  homeDir?: string;
  startTimeoutMs?: number;
  setupTimeoutMs?: number;
  installTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface WordpressUser {
  id: number;
  login: string;
  /** The application password (WordPress shows it once; kept in the credentials file). */
  password: string;
  /** `Basic base64(login:password)`, what a REST client sends. */
  authorization: string;
}

export interface RunningWordpress {
  url: string;
  version: string;
  /** The package's version, e.g. `6.1.9+dfsg1-0+deb12u1`. */
  packageVersion: string;
  database: string;
  /** WordPress's database with MYSQL_URL's account (for tests, backfill and verify). */
  mysqlUrl: string;
  admin: WordpressUser;
  /** writer1..writerN (role editor). */
  users: WordpressUser[];
  configPath: string;
  startedNow: boolean;
  /** Milliseconds of this call (install and setup are 0 when there was nothing to do). */
  timings: { installMs: number; setupMs: number; startMs: number; totalMs: number };
  logPath: string;
}

interface Resolved {
  name: string;
  port: number;
  url: string;
  database: string;
  adminMysqlUrl: string;
  users: number;
  homeDir: string;
  configPath: string;
  credentialsPath: string;
  paths: InfraPaths;
  startTimeoutMs: number;
  setupTimeoutMs: number;
  installTimeoutMs: number;
  log: (line: string) => void;
}

interface Credentials {
  dbPassword: string;
  adminPassword: string;
  salts: Record<string, string>;
  /** login -> the application password WordPress made for it. */
  appPasswords: Record<string, { id: number; uuid: string; password: string }>;
}

const SALT_NAMES = ['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT'];

export function wordpressHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'strangler-fig', 'wordpress');
}

function resolve(options: WordpressOptions): Resolved {
  const env = options.env ?? process.env;
  const name = options.name ?? WORDPRESS_DEFAULTS.name;
  const port = options.port ?? WORDPRESS_DEFAULTS.port;
  const database = options.database ?? WORDPRESS_DEFAULTS.database;
  const homeDir = options.homeDir ?? wordpressHome(env);
  const problems = [
    !/^[a-zA-Z0-9-]+$/.test(name) && `name '${name}' must be letters, digits or - (Debian's wp-config.php takes no other)`,
    !/^[a-z0-9_]{1,64}$/.test(database) && `database '${database}' must be lower-case letters, digits or _`,
    !(Number.isInteger(port) && port > 0 && port < 65536) && `port ${port} is not a port`,
  ].filter(Boolean);
  if (problems.length) throw new InfraError('SFG_INFRA_START_FAILED', `wordpress: ${problems.join('; ')}`);
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    database,
    adminMysqlUrl: env.MYSQL_URL || DEFAULT_MYSQL_URL,
    users: options.users ?? WORDPRESS_DEFAULTS.users,
    homeDir,
    configPath: path.join(ETC_DIR, `config-${name}.php`),
    credentialsPath: path.join(homeDir, `${name}.credentials.json`),
    paths: options.paths ?? infraPaths(env),
    startTimeoutMs: options.startTimeoutMs ?? WORDPRESS_DEFAULTS.startTimeoutMs,
    setupTimeoutMs: options.setupTimeoutMs ?? WORDPRESS_DEFAULTS.setupTimeoutMs,
    installTimeoutMs: options.installTimeoutMs ?? WORDPRESS_DEFAULTS.installTimeoutMs,
    log: options.log ?? ((line: string) => console.error(line)),
  };
}

/** The installed version of Debian's wordpress when every package is installed, else undefined. */
export function installedWordpressVersion(): string | undefined {
  const query = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status} ${Version}\n', ...WORDPRESS_PACKAGES], { encoding: 'utf8' });
  const rows = (query.stdout ?? '').trim().split('\n').map((line) => line.split(' '));
  const installed = new Map(rows.filter((row) => row.slice(1, 4).join(' ') === 'install ok installed').map((row) => [row[0], row[4]]));
  if (!WORDPRESS_PACKAGES.every((pkg) => installed.has(pkg)) || !fs.existsSync(path.join(PACKAGE_DIR, 'wp-settings.php'))) return undefined;
  return installed.get('wordpress');
}

function ensurePackages(resolved: Resolved): { version: string; installedNow: boolean } {
  const version = installedWordpressVersion();
  if (version) return { version, installedNow: false };
  resolved.log(`wordpress: not installed; installing Debian's ${WORDPRESS_PACKAGES.join(', ')} (apt-get install, once)`);
  installDebianPackages('wordpress', WORDPRESS_PACKAGES, { timeoutMs: resolved.installTimeoutMs });
  const installed = installedWordpressVersion();
  if (!installed) throw new InfraError('SFG_INFRA_START_FAILED', `wordpress: apt-get install succeeded but ${WORDPRESS_PACKAGES.join(', ')} are not all installed`);
  return { version: installed, installedNow: true };
}

function readCredentials(resolved: Resolved): Credentials {
  if (fs.existsSync(resolved.credentialsPath)) return JSON.parse(fs.readFileSync(resolved.credentialsPath, 'utf8')) as Credentials;
  const secret = () => crypto.randomBytes(24).toString('base64url');
  const credentials: Credentials = { dbPassword: secret(), adminPassword: secret(), salts: Object.fromEntries(SALT_NAMES.map((salt) => [salt, crypto.randomBytes(48).toString('base64')])), appPasswords: {} };
  writeCredentials(resolved, credentials);
  return credentials;
}

function writeCredentials(resolved: Resolved, credentials: Credentials): void {
  fs.mkdirSync(resolved.homeDir, { recursive: true });
  const staging = `${resolved.credentialsPath}.${process.pid}.tmp`;
  fs.writeFileSync(staging, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(staging, resolved.credentialsPath);
}

/** The mysql URL of `database` with `url`'s account. */
function mysqlUrlOf(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** WordPress's database, and a user of its own with every privilege on it only. Returns whether the database is new. */
async function ensureDatabase(resolved: Resolved, credentials: Credentials): Promise<boolean> {
  const connection = await mysql.createConnection({ uri: resolved.adminMysqlUrl, connectTimeout: 5000 }).catch((error: Error) => {
    throw new InfraError('SFG_INFRA_START_FAILED', `wordpress: cannot reach MariaDB at ${new URL(resolved.adminMysqlUrl).host} (${error.message}); run npm run infra -- up mariadb, or set MYSQL_URL`, { cause: error });
  });
  try {
    const [existing] = await connection.query<mysql.RowDataPacket[]>('select 1 from information_schema.schemata where schema_name = ?', [resolved.database]);
    await connection.query(`create database if not exists \`${resolved.database}\` character set utf8mb4 collate utf8mb4_unicode_ci`);
    for (const host of ['127.0.0.1', 'localhost']) {
      await connection.query('create user if not exists ?@? identified by ?', [resolved.database, host, credentials.dbPassword]);
      await connection.query('alter user ?@? identified by ?', [resolved.database, host, credentials.dbPassword]);
      await connection.query(`grant all privileges on \`${resolved.database}\`.* to ?@?`, [resolved.database, host]);
    }
    return existing.length === 0;
  } finally {
    await connection.end().catch(() => undefined);
  }
}

const phpString = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The file Debian's wp-config.php requires: ours, written when it differs. Returns whether it wrote. */
function writeConfig(resolved: Resolved, credentials: Credentials): boolean {
  const mysqlUrl = new URL(resolved.adminMysqlUrl);
  const defines: [string, string | boolean][] = [
    ['DB_NAME', resolved.database],
    ['DB_USER', resolved.database],
    ['DB_PASSWORD', credentials.dbPassword],
    // TCP, not the socket: the server MYSQL_URL names.
    ['DB_HOST', `${mysqlUrl.hostname === 'localhost' ? '127.0.0.1' : mysqlUrl.hostname}:${mysqlUrl.port || 3306}`],
    ['DB_CHARSET', 'utf8mb4'],
    ['DB_COLLATE', ''],
    ['WP_HOME', resolved.url],
    ['WP_SITEURL', resolved.url],
    // wp_is_application_passwords_supported(): over plain http only in a 'local' environment.
    ['WP_ENVIRONMENT_TYPE', 'local'],
    // No loopback cron requests and no calls to wordpress.org (update checks) from a test machine.
    ['DISABLE_WP_CRON', true],
    ['WP_HTTP_BLOCK_EXTERNAL', true],
    ['AUTOMATIC_UPDATER_DISABLED', true],
    ...SALT_NAMES.map((salt): [string, string] => [salt, credentials.salts[salt]!]),
  ];
  const content = [
    '<?php',
    `// Written by strangler-fig's infra (infra/wordpress.ts) for WordPress on ${resolved.url}; read by Debian's wp-config.php.`,
    ...defines.map(([name, value]) => `define('${name}', ${typeof value === 'boolean' ? String(value) : phpString(value)});`),
    '',
  ].join('\n');
  if (fs.existsSync(resolved.configPath) && fs.readFileSync(resolved.configPath, 'utf8') === content) return false;
  try {
    fs.mkdirSync(ETC_DIR, { recursive: true });
    fs.accessSync(ETC_DIR, fs.constants.W_OK);
  } catch (error) {
    throw new InfraError('SFG_INFRA_START_FAILED', `wordpress: cannot write ${resolved.configPath} (${(error as Error).message}): Debian's WordPress reads its configuration only from ${ETC_DIR}; run as root, or make ${ETC_DIR} writable for this user`, { cause: error });
  }
  const staging = `${resolved.configPath}.${process.pid}.tmp`;
  fs.writeFileSync(staging, content, { mode: 0o640 });
  fs.renameSync(staging, resolved.configPath);
  return true;
}

interface SetupAnswer {
  version: string;
  installedNow: boolean;
  users: { id: number; login: string; uuid: string; password?: string }[];
}

/** examples/wordpress/wordpress-config/setup.php: WordPress's installer, permalinks, users, application passwords. */
function runSetup(resolved: Resolved, credentials: Credentials): SetupAnswer {
  const request = {
    title: 'Strangler',
    admin: { login: 'admin', email: 'admin@example.test', password: credentials.adminPassword },
    users: Array.from({ length: resolved.users }, (_, index) => ({ login: `writer${index + 1}`, email: `writer${index + 1}@example.test`, role: 'editor' })),
    appPasswords: Object.fromEntries(Object.entries(credentials.appPasswords).map(([login, entry]) => [login, entry.uuid])),
  };
  const result = spawnSync('php', [path.join(WORDPRESS_CONFIG_DIR, 'setup.php')], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    env: { ...process.env, WORDPRESS_CONFIG: resolved.name, HTTP_HOST: `127.0.0.1:${resolved.port}` },
    timeout: resolved.setupTimeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  });
  const answer = (result.stdout ?? '').trim().split('\n').pop() ?? '';
  if (result.status !== 0 || !answer.startsWith('{')) {
    const output = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n').slice(-10).join('\n  ');
    throw new InfraError('SFG_INFRA_START_FAILED', `wordpress: setup.php failed (${result.signal ?? `exit ${result.status}`}):\n  ${output || result.error?.message}`);
  }
  return JSON.parse(answer) as SetupAnswer;
}

const basic = (login: string, password: string) => `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;

/** Resolves when the REST API answers `/users/me` for the admin's application password; otherwise throws what it got. */
async function restAnswers(url: string, admin: WordpressUser, timeoutMs = 5000): Promise<void> {
  const response = await fetch(`${url}/wp-json/wp/v2/users/me`, { headers: { authorization: admin.authorization }, signal: AbortSignal.timeout(timeoutMs) });
  const body = (await response.text()).slice(0, 300);
  if (response.status !== 200) throw new Error(`GET ${url}/wp-json/wp/v2/users/me answered ${response.status}: ${body}`);
  if (!body.includes(`"slug":"${admin.login}"`)) throw new Error(`GET ${url}/wp-json/wp/v2/users/me answered for another user: ${body}`);
}

/** One setup at a time per name (two test files, or a test and `infra up wordpress`). */
function withSetupLock<T>(resolved: Resolved, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + resolved.installTimeoutMs + resolved.setupTimeoutMs + resolved.startTimeoutMs;
  return withLockFile(path.join(resolved.homeDir, `${resolved.name}.lock`), 'wordpress', deadline, 250, work);
}

/**
 * Installs (when missing), configures, sets up and starts WordPress: `php -S 127.0.0.1:<port>` on
 * /usr/share/wordpress with our router, as a daemon with a pid file and a log in `.infra/`, ready when the REST API
 * answers `/wp-json/wp/v2/users/me` for the admin's application password. A WordPress of this name that already
 * answers so is reused.
 */
export async function startWordpress(options: WordpressOptions = {}): Promise<RunningWordpress> {
  const resolved = resolve(options);
  const started = Date.now();
  return withSetupLock(resolved, async () => {
    const packages = ensurePackages(resolved);
    const installMs = packages.installedNow ? Date.now() - started : 0;
    const setupStarted = Date.now();
    const credentials = readCredentials(resolved);
    if (await ensureDatabase(resolved, credentials)) resolved.log(`wordpress: created database ${resolved.database} and its user on ${new URL(resolved.adminMysqlUrl).host}`);
    if (writeConfig(resolved, credentials)) resolved.log(`wordpress: wrote ${resolved.configPath}`);
    const setup = runSetup(resolved, credentials);
    if (setup.installedNow) resolved.log(`wordpress: installed WordPress ${setup.version} into database ${resolved.database} (wp_install, permalinks /%postname%/)`);
    const fresh = setup.users.filter((user) => user.password !== undefined);
    if (fresh.length) {
      for (const user of fresh) credentials.appPasswords[user.login] = { id: user.id, uuid: user.uuid, password: user.password! };
      writeCredentials(resolved, credentials);
      resolved.log(`wordpress: created application passwords for ${fresh.map((user) => user.login).join(', ')} (kept in ${resolved.credentialsPath})`);
    }
    const setupMs = setup.installedNow || fresh.length ? Date.now() - setupStarted : 0;
    const [admin, ...users] = setup.users.map((user): WordpressUser => {
      const password = credentials.appPasswords[user.login]!.password;
      return { id: user.id, login: user.login, password, authorization: basic(user.login, password) };
    });
    const result = (startedNow: boolean, startMs: number): RunningWordpress => ({
      url: resolved.url,
      version: setup.version,
      packageVersion: packages.version,
      database: resolved.database,
      mysqlUrl: mysqlUrlOf(resolved.adminMysqlUrl, resolved.database),
      admin: admin!,
      users,
      configPath: resolved.configPath,
      startedNow,
      timings: { installMs, setupMs, startMs, totalMs: Date.now() - started },
      logPath: logFile(resolved.paths, resolved.name),
    });

    const notOurs = () => new InfraError('SFG_INFRA_START_FAILED', `wordpress: ${resolved.url} answers, but not as the WordPress on database ${resolved.database} (its admin's application password is refused): pick another port`);
    if (await restAnswers(resolved.url, admin!).then(() => true, () => false)) return result(false, 0);
    if (await httpOk(resolved.url, {}, 2000)) throw notOurs();
    // A server of ours that no longer answers (hung) is replaced.
    await stopDaemon(resolved.paths, resolved.name);
    resolved.log(`wordpress: starting WordPress ${setup.version} on ${resolved.url} (php -S, database ${resolved.database})`);
    const spawned = Date.now();
    const pid = startDaemon(resolved.paths, {
      name: resolved.name,
      command: 'php',
      args: ['-S', `127.0.0.1:${resolved.port}`, '-t', PACKAGE_DIR, path.join(WORDPRESS_CONFIG_DIR, 'router.php')],
      cwd: PACKAGE_DIR,
      env: { ...process.env, WORDPRESS_CONFIG: resolved.name, PHP_CLI_SERVER_WORKERS: String(WORDPRESS_DEFAULTS.workers) },
    });
    try {
      await retrying('wordpress', () => restAnswers(resolved.url, admin!), {
        address: `${resolved.url}/wp-json/wp/v2/users/me`,
        timeoutMs: resolved.startTimeoutMs,
        intervalMs: 100,
        maxIntervalMs: 500,
        logPath: logFile(resolved.paths, resolved.name),
        pid,
      });
    } catch (error) {
      await stopDaemon(resolved.paths, resolved.name);
      throw error;
    }
    return result(true, Date.now() - spawned);
  });
}

/** Stops the WordPress this project started (its pid file). Returns whether one was running. */
export function stopWordpress(options: Pick<WordpressOptions, 'env' | 'paths' | 'name'> = {}): Promise<boolean> {
  return stopDaemon(options.paths ?? infraPaths(options.env), options.name ?? WORDPRESS_DEFAULTS.name);
}

/** Whether a WordPress started by this project (pid file) runs. */
export function wordpressStartedByInfra(options: Pick<WordpressOptions, 'env' | 'paths' | 'name'> = {}): boolean {
  return startedPid(options.paths ?? infraPaths(options.env), options.name ?? WORDPRESS_DEFAULTS.name) !== undefined;
}

export async function wordpressStatus(options: Pick<WordpressOptions, 'env' | 'paths' | 'name' | 'port'> = {}): Promise<ServiceStatus> {
  const address = `http://127.0.0.1:${options.port ?? WORDPRESS_DEFAULTS.port}`;
  const version = installedWordpressVersion();
  const healthy = version !== undefined && (await httpOk(`${address}/wp-json/`, {}, 3000));
  return { name: 'wordpress', address, healthy, startedByUs: wordpressStartedByInfra(options), startedNow: false, detail: version ? `Debian wordpress ${version}` : 'not installed' };
}
