import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { InfraError } from './errors';
import { infraPaths, resolveEnvironment, ROOT_DIR, withDatabase, type InfraPaths } from './options';
import { ensureDatabase } from './postgres';
import { commandExists, httpOk, logFile, retrying, startDaemon, startedPid, stopDaemon, withLockFile } from './process';
import type { ServiceStatus } from './types';

/**
 * Redmine 5.0 as Debian ships it (packages redmine, redmine-pgsql, ruby-webrick), for the example that strangles an
 * unmodified monolith. Not one of the default services: only the tests that need it and `infra up redmine` start it.
 *
 * Nothing is written outside this project's own places (apt-get aside). The package's files in /usr/share/redmine are
 * copied, byte for byte, to a cache directory, so that the configuration Redmine reads from beside its code
 * (`Gemfile.local`) and from its instance directory (`database.yml`, `configuration.yml`, the secret) can be ours
 * without writing into /usr/share, /etc or /var/lib. Redmine's code, gems and schema are not changed.
 */
export const REDMINE_PACKAGES = ['redmine', 'redmine-pgsql', 'ruby-webrick'] as const;
export const REDMINE_DEFAULTS = {
  name: 'redmine',
  port: 3200,
  database: 'strangler_redmine',
  projectIdentifier: 'strangler',
  projectName: 'Strangler',
  startTimeoutMs: 90_000,
  setupTimeoutMs: 300_000,
  installTimeoutMs: 900_000,
} as const;

/** The repository's configuration files for Redmine. */
export const REDMINE_CONFIG_DIR = path.join(ROOT_DIR, 'examples', 'redmine', 'redmine-config');
const PACKAGE_DIR = '/usr/share/redmine';
const DEBCONF_PRESEED = 'redmine redmine/instances/default/dbconfig-install boolean false\n';

export interface RedmineOptions {
  /** Resolves DATABASE_URL (Redmine's database lives on that server) and XDG_CACHE_HOME. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where the pid file and the server's log go (default: the checkout's `.infra/`). */
  paths?: InfraPaths;
  /** The daemon's name: pid file, log file and Redmine instance directory. Default `redmine`. */
  name?: string;
  /** Port on 127.0.0.1. Default 3200. */
  port?: number;
  /** Redmine's own database, on DATABASE_URL's server. Default `strangler_redmine`. */
  database?: string;
  /** The project the setup creates. Default identifier `strangler`, name `Strangler`. */
  projectIdentifier?: string;
  projectName?: string;
  /** Where the copy of the package and the instance directories live. Default `~/.cache/strangler-fig/redmine`. */
  homeDir?: string;
  /** Deadline for `/projects.json` to answer after the server is spawned. */
  startTimeoutMs?: number;
  /** Deadline for each of `rake db:migrate redmine:load_default_data` and the configuration runner. */
  setupTimeoutMs?: number;
  /** Deadline for apt-get. */
  installTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface RedmineInstallation {
  /** The installed package's version, e.g. `5.0.4-5+deb12u1`. */
  version: string;
  /** The copy of /usr/share/redmine that runs (Rails.root). */
  appDir: string;
  installedNow: boolean;
}

export interface RunningRedmine {
  url: string;
  /** The admin user's API key (send as `X-Redmine-API-Key`). */
  apiKey: string;
  project: { id: number; identifier: string };
  database: string;
  databaseUrl: string;
  version: string;
  /** The copy of /usr/share/redmine that runs, and its instance directory (our configuration, logs, attachments). */
  appDir: string;
  instanceDir: string;
  /** This call spawned the server (it was not answering before). */
  startedNow: boolean;
  /** Timings of this call, in milliseconds (install and setup are 0 when there was nothing to do). */
  timings: { installMs: number; setupMs: number; startMs: number; totalMs: number };
  /** The server's stdout/stderr and Rails' production.log. */
  logPath: string;
  railsLogPath: string;
}

interface Resolved {
  name: string;
  port: number;
  url: string;
  database: string;
  databaseUrl: string;
  adminUrl: string;
  projectIdentifier: string;
  projectName: string;
  homeDir: string;
  instanceDir: string;
  paths: InfraPaths;
  startTimeoutMs: number;
  setupTimeoutMs: number;
  installTimeoutMs: number;
  log: (line: string) => void;
}

export function redmineHome(env: NodeJS.ProcessEnv = process.env): string {
  const cacheRoot = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheRoot, 'strangler-fig', 'redmine');
}

function resolve(options: RedmineOptions): Resolved {
  const env = resolveEnvironment(options.env);
  const name = options.name ?? REDMINE_DEFAULTS.name;
  const port = options.port ?? REDMINE_DEFAULTS.port;
  const database = options.database ?? REDMINE_DEFAULTS.database;
  const homeDir = options.homeDir ?? redmineHome(options.env);
  if (!/^[a-z0-9_-]+$/i.test(name)) throw new InfraError('SFG_INFRA_START_FAILED', `redmine: name '${name}' must be letters, digits, - or _`);
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    database,
    databaseUrl: withDatabase(env.databaseUrl, database),
    adminUrl: env.databaseUrl,
    projectIdentifier: options.projectIdentifier ?? REDMINE_DEFAULTS.projectIdentifier,
    projectName: options.projectName ?? REDMINE_DEFAULTS.projectName,
    homeDir,
    instanceDir: path.join(homeDir, 'instances', name),
    paths: options.paths ?? infraPaths(options.env),
    startTimeoutMs: options.startTimeoutMs ?? REDMINE_DEFAULTS.startTimeoutMs,
    setupTimeoutMs: options.setupTimeoutMs ?? REDMINE_DEFAULTS.setupTimeoutMs,
    installTimeoutMs: options.installTimeoutMs ?? REDMINE_DEFAULTS.installTimeoutMs,
    log: options.log ?? ((line: string) => console.error(line)),
  };
}

/** The installed version of Debian's redmine when all three packages are installed, else undefined. */
export function installedRedmineVersion(): string | undefined {
  const query = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status} ${Version}\n', ...REDMINE_PACKAGES], { encoding: 'utf8' });
  const rows = (query.stdout ?? '').trim().split('\n').map((line) => line.split(' '));
  const installed = new Map(rows.filter((row) => row.slice(1, 4).join(' ') === 'install ok installed').map((row) => [row[0], row[4]]));
  if (!REDMINE_PACKAGES.every((pkg) => installed.has(pkg)) || !fs.existsSync(path.join(PACKAGE_DIR, 'Gemfile'))) return undefined;
  return installed.get('redmine');
}

function installPackages(resolved: Resolved): void {
  if (process.platform !== 'linux' || !commandExists('apt-get') || !commandExists('dpkg-query')) {
    throw new InfraError('SFG_INFRA_MISSING_TOOL', `redmine: not installed and apt-get is not available: install Debian's ${REDMINE_PACKAGES.join(', ')} yourself`);
  }
  if (process.getuid?.() !== 0) {
    throw new InfraError(
      'SFG_INFRA_MISSING_TOOL',
      `redmine: not installed; installing it needs root: echo '${DEBCONF_PRESEED.trim()}' | sudo debconf-set-selections && sudo apt-get install ${REDMINE_PACKAGES.join(' ')}`,
    );
  }
  resolved.log(`redmine: not installed; installing Debian's redmine, redmine-pgsql and ruby-webrick (apt-get install, once)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // No database is configured by the package (dbconfig-common): Redmine gets a database.yml of ours instead.
  const preseed = spawnSync('debconf-set-selections', { input: DEBCONF_PRESEED, encoding: 'utf8', env });
  if (preseed.status !== 0) throw new InfraError('SFG_INFRA_START_FAILED', `redmine: debconf-set-selections failed: ${preseed.stderr || preseed.error?.message}`);
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', ...REDMINE_PACKAGES], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: resolved.installTimeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
  let result = install();
  if (result.status !== 0) {
    // A fresh machine may not have package lists yet.
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore', timeout: resolved.installTimeoutMs });
    result = install();
  }
  if (result.status !== 0 || !installedRedmineVersion()) {
    const output = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n').slice(-5).join(' | ');
    throw new InfraError('SFG_INFRA_START_FAILED', `redmine: apt-get install ${REDMINE_PACKAGES.join(' ')} failed (exit ${result.status}): ${output || result.error?.message}`);
  }
}

/** Copies `from` to `to` when `to` is missing or differs; returns whether it wrote. */
function syncFile(from: string, to: string, mode?: number): boolean {
  const content = fs.readFileSync(from);
  if (fs.existsSync(to) && fs.readFileSync(to).equals(content)) return false;
  const staging = `${to}.${process.pid}.tmp`;
  fs.writeFileSync(staging, content, { mode });
  fs.renameSync(staging, to);
  return true;
}

/**
 * The package's /usr/share/redmine, copied once per package version. Debian's copy links its configuration to
 * /etc/redmine/default and its instances to /var/lib/redmine; the copy's `instances` is a directory of ours, and its
 * `Gemfile.local` is the repository's. Bundler writes the copy's own Gemfile.lock.
 */
function ensureAppCopy(homeDir: string, version: string): string {
  const appDir = path.join(homeDir, `app-${version}`);
  if (!fs.existsSync(path.join(appDir, 'Gemfile'))) {
    fs.mkdirSync(homeDir, { recursive: true });
    const staging = fs.mkdtempSync(path.join(homeDir, '.copy-'));
    try {
      fs.rmSync(staging, { recursive: true });
      fs.cpSync(PACKAGE_DIR, staging, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      for (const link of ['instances', 'Gemfile.lock', path.join('config', 'database.yml')]) fs.rmSync(path.join(staging, link), { force: true });
      fs.symlinkSync(path.join('..', 'instances'), path.join(staging, 'instances'));
      fs.renameSync(staging, appDir);
    } catch (error) {
      fs.rmSync(staging, { recursive: true, force: true });
      // Another process's copy landed first: theirs is as good.
      if (!fs.existsSync(path.join(appDir, 'Gemfile'))) throw error;
    }
  }
  syncFile(path.join(REDMINE_CONFIG_DIR, 'Gemfile.local'), path.join(appDir, 'Gemfile.local'));
  return appDir;
}

/**
 * Makes Redmine available: Debian's packages (installed with apt-get when missing and this process is root; one log
 * line says so) and the copy of the package this project runs. Synchronous: apt-get takes about a minute, once.
 */
export function ensureRedmine(options: RedmineOptions = {}): RedmineInstallation {
  const resolved = resolve(options);
  let version = installedRedmineVersion();
  let installedNow = false;
  if (!version) {
    installPackages(resolved);
    version = installedRedmineVersion()!;
    installedNow = true;
  }
  return { version, appDir: ensureAppCopy(resolved.homeDir, version), installedNow };
}

/** Redmine's instance directory (REDMINE_INSTANCE): our configuration files, the secret, logs, tmp and attachments. */
function prepareInstance(resolved: Resolved): void {
  const config = path.join(resolved.instanceDir, 'config');
  for (const dir of [config, 'log', 'tmp/pids', 'files', 'public/plugin_assets'].map((dir) => path.resolve(resolved.instanceDir, dir))) {
    fs.mkdirSync(dir, { recursive: true });
  }
  syncFile(path.join(REDMINE_CONFIG_DIR, 'database.yml'), path.join(config, 'database.yml'));
  syncFile(path.join(REDMINE_CONFIG_DIR, 'configuration.yml'), path.join(config, 'configuration.yml'));
  const secret = path.join(config, 'secret_key.txt');
  if (!fs.existsSync(secret)) fs.writeFileSync(secret, `${crypto.randomBytes(64).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
}

/** What Rails and Redmine read from the environment: the production env, our instance, our database. */
function railsEnv(resolved: Resolved, appDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    RAILS_ENV: 'production',
    REDMINE_INSTANCE: resolved.name,
    BUNDLE_GEMFILE: path.join(appDir, 'Gemfile'),
    // Rails merges DATABASE_URL over database.yml: Redmine's database on the server strangler-fig uses.
    DATABASE_URL: resolved.databaseUrl,
    REDMINE_PROJECT_IDENTIFIER: resolved.projectIdentifier,
    REDMINE_PROJECT_NAME: resolved.projectName,
    REDMINE_LANG: 'en',
    // Redmine stores created_on/updated_on as `timestamp without time zone` in the process's local time
    // (active_record.default_timezone = :local): pinned, so the rows mean the same on every machine.
    TZ: 'UTC',
  };
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Migration versions the installed Redmine has (db/migrate/<version>_<name>.rb), as schema_migrations stores them. */
export function redmineMigrationVersions(appDir: string): string[] {
  return fs
    .readdirSync(path.join(appDir, 'db', 'migrate'))
    .map((file) => /^(\d+)_\w+\.rb$/.exec(file)?.[1])
    .filter((version): version is string => version !== undefined)
    .map((version) => String(Number(version)));
}

interface SetupState {
  migrated: boolean;
  defaultData: boolean;
  apiKey?: string;
  projectId?: number;
  restApi: boolean;
}

async function setupState(resolved: Resolved, appDir: string): Promise<SetupState> {
  return withClient(resolved.databaseUrl, async (client) => {
    const hasSchema = (await client.query(`select to_regclass('public.schema_migrations') is not null as present`)).rows[0].present as boolean;
    if (!hasSchema) return { migrated: false, defaultData: false, restApi: false };
    const pending = await client.query(`select count(*)::int as n from unnest($1::text[]) v where v not in (select version from schema_migrations)`, [
      redmineMigrationVersions(appDir),
    ]);
    if (pending.rows[0].n > 0) return { migrated: false, defaultData: false, restApi: false };
    const row = (
      await client.query(
        `select (select count(*)::int from trackers) as trackers,
                (select value from settings where name = 'rest_api_enabled') as rest_api,
                (select t.value from tokens t join users u on u.id = t.user_id where u.login = 'admin' and t.action = 'api' order by t.id desc limit 1) as api_key,
                (select id from projects where identifier = $1) as project_id`,
        [resolved.projectIdentifier],
      )
    ).rows[0] as { trackers: number; rest_api: string | null; api_key: string | null; project_id: number | null };
    return { migrated: true, defaultData: row.trackers > 0, restApi: row.rest_api === '1', apiKey: row.api_key ?? undefined, projectId: row.project_id ?? undefined };
  });
}

function runRails(resolved: Resolved, appDir: string, step: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(path.join(appDir, 'bin', args[0]!), args.slice(1), {
      cwd: appDir,
      env: railsEnv(resolved, appDir),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = Date.now();
    let output = '';
    const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-200_000));
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), resolved.setupTimeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new InfraError('SFG_INFRA_START_FAILED', `redmine: ${step}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const took = ((Date.now() - started) / 1000).toFixed(1);
      const log = logFile(resolved.paths, resolved.name);
      fs.mkdirSync(path.dirname(log), { recursive: true });
      fs.appendFileSync(log, `--- ${new Date(started).toISOString()} ${step} (${took} s, ${signal ?? `exit ${code}`})\n${output}`);
      if (code === 0) resolvePromise(output);
      else {
        const why = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ` after ${resolved.setupTimeoutMs / 1000} s` : ''}` : `exit ${code}`;
        reject(new InfraError('SFG_INFRA_START_FAILED', `redmine: ${step} failed (${why}):\n  ${output.trim().split('\n').slice(-15).join('\n  ')}`));
      }
    });
  });
}

/**
 * Brings Redmine's database to what the tests use, doing only what is missing: `rake db:migrate` on a new or
 * outdated database, `rake redmine:load_default_data` (REDMINE_LANG=en) on one without trackers, then `rails runner setup.rb`
 * (REST API on, the admin's API key, the project) when any of those is missing.
 */
async function setupDatabase(resolved: Resolved, appDir: string): Promise<{ apiKey: string; projectId: number; ran: boolean }> {
  if (await ensureDatabase(resolved.adminUrl, resolved.database)) resolved.log(`redmine: created database ${resolved.database}`);
  let state = await setupState(resolved, appDir);
  let ran = false;
  // Two processes: in one, load_default_data would use models whose columns were read before the migrations ran
  // ("unknown attribute 'issues_visibility' for Role"). The task prints its errors but exits 0: the state is checked.
  if (!state.migrated) {
    resolved.log(`redmine: rake db:migrate on database ${resolved.database}`);
    await runRails(resolved, appDir, 'rake db:migrate', ['rake', 'db:migrate']);
    ran = true;
    state = await setupState(resolved, appDir);
    if (!state.migrated) throw new InfraError('SFG_INFRA_START_FAILED', `redmine: database ${resolved.database} still has pending migrations after rake db:migrate`);
  }
  if (!state.defaultData) {
    const output = await runRails(resolved, appDir, 'rake redmine:load_default_data', ['rake', 'redmine:load_default_data']);
    ran = true;
    state = await setupState(resolved, appDir);
    if (!state.defaultData) throw new InfraError('SFG_INFRA_START_FAILED', `redmine: rake redmine:load_default_data loaded nothing: ${output.trim().split('\n').slice(-3).join(' | ')}`);
  }
  if (!state.restApi || !state.apiKey || !state.projectId) {
    await runRails(resolved, appDir, 'rails runner setup.rb', ['rails', 'runner', path.join(REDMINE_CONFIG_DIR, 'setup.rb')]);
    ran = true;
    state = await setupState(resolved, appDir);
    if (!state.restApi || !state.apiKey || !state.projectId) throw new InfraError('SFG_INFRA_START_FAILED', `redmine: setup.rb did not configure database ${resolved.database}`);
  }
  return { apiKey: state.apiKey, projectId: state.projectId, ran };
}

/** Resolves when `/projects.json` answers 200 with the API key; otherwise throws what it got. */
async function projectsAnswer(url: string, apiKey: string, timeoutMs = 5000): Promise<void> {
  const response = await fetch(`${url}/projects.json`, { headers: { 'X-Redmine-API-Key': apiKey }, signal: AbortSignal.timeout(timeoutMs) });
  await response.body?.cancel();
  if (response.status !== 200) throw new Error(`GET ${url}/projects.json answered ${response.status}`);
}

/**
 * Whether the Redmine at `url` is the one on our database: it takes the admin's API key from that database. (Redmine
 * treats an unknown key as the anonymous user, and anonymous users may list public projects: /projects.json alone
 * does not tell.)
 */
async function acceptsApiKey(url: string, apiKey: string): Promise<boolean> {
  const response = await fetch(`${url}/users/current.json`, { headers: { 'X-Redmine-API-Key': apiKey }, signal: AbortSignal.timeout(5000) });
  const body = response.status === 200 ? ((await response.json()) as { user?: { login?: string } }) : (await response.body?.cancel(), undefined);
  return body?.user?.login === 'admin';
}

/** One setup at a time per home directory (two test files, or a test and `infra up redmine`). */
function withSetupLock<T>(resolved: Resolved, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + resolved.installTimeoutMs + resolved.setupTimeoutMs * 2 + resolved.startTimeoutMs;
  return withLockFile(path.join(resolved.homeDir, `${resolved.name}.lock`), 'redmine', deadline, 500, work);
}

/**
 * Installs (when missing), sets up and starts Redmine: `rails server -u webrick -e production` on 127.0.0.1, as a
 * daemon with a pid file and a log in `.infra/`, and waits, up to a deadline, until `/projects.json` answers 200 with
 * the admin's API key. A Redmine of this instance that already answers there is reused.
 */
export async function startRedmine(options: RedmineOptions = {}): Promise<RunningRedmine> {
  const resolved = resolve(options);
  const started = Date.now();
  return withSetupLock(resolved, async () => {
    const installation = ensureRedmine(options);
    const installMs = installation.installedNow ? Date.now() - started : 0;
    const setupStarted = Date.now();
    prepareInstance(resolved);
    const { apiKey, projectId, ran } = await setupDatabase(resolved, installation.appDir);
    const setupMs = ran ? Date.now() - setupStarted : 0;
    const result = (startedNow: boolean, startMs: number): RunningRedmine => ({
      url: resolved.url,
      apiKey,
      project: { id: projectId, identifier: resolved.projectIdentifier },
      database: resolved.database,
      databaseUrl: resolved.databaseUrl,
      version: installation.version,
      appDir: installation.appDir,
      instanceDir: resolved.instanceDir,
      startedNow,
      timings: { installMs, setupMs, startMs, totalMs: Date.now() - started },
      logPath: logFile(resolved.paths, resolved.name),
      railsLogPath: path.join(resolved.instanceDir, 'log', 'production.log'),
    });

    const notOurs = () =>
      new InfraError('SFG_INFRA_START_FAILED', `redmine: ${resolved.url} answers, but not as a Redmine on database ${resolved.database} (its admin's API key is refused): pick another port`);
    if (await projectsAnswer(resolved.url, apiKey).then(() => true, () => false)) {
      if (!(await acceptsApiKey(resolved.url, apiKey))) throw notOurs();
      return result(false, 0);
    }
    if (await httpOk(resolved.url, {}, 2000)) throw notOurs();
    // A server of ours that no longer answers (hung) is replaced; a stale Rails pid file would stop the new one.
    await stopDaemon(resolved.paths, resolved.name);
    const railsPid = path.join(resolved.instanceDir, 'tmp', 'pids', 'server.pid');
    fs.rmSync(railsPid, { force: true });
    resolved.log(`redmine: starting Redmine ${installation.version} on ${resolved.url} (database ${resolved.database})`);
    const spawned = Date.now();
    let answeredMs = 0;
    const pid = startDaemon(resolved.paths, {
      name: resolved.name,
      command: path.join(installation.appDir, 'bin', 'rails'),
      args: ['server', '-u', 'webrick', '-e', 'production', '-b', '127.0.0.1', '-p', String(resolved.port), '-P', railsPid],
      cwd: installation.appDir,
      env: railsEnv(resolved, installation.appDir),
    });
    try {
      await retrying('redmine', () => projectsAnswer(resolved.url, apiKey), {
        address: `${resolved.url}/projects.json`,
        timeoutMs: resolved.startTimeoutMs,
        intervalMs: 250,
        maxIntervalMs: 500,
        logPath: logFile(resolved.paths, resolved.name),
        pid,
      });
      answeredMs = Date.now() - spawned;
      if (!(await acceptsApiKey(resolved.url, apiKey))) throw notOurs();
    } catch (error) {
      await stopDaemon(resolved.paths, resolved.name);
      throw error;
    }
    return result(true, answeredMs);
  });
}

/** Stops the Redmine this project started (its pid file). Returns whether one was running. */
export function stopRedmine(options: Pick<RedmineOptions, 'env' | 'paths' | 'name'> = {}): Promise<boolean> {
  return stopDaemon(options.paths ?? infraPaths(options.env), options.name ?? REDMINE_DEFAULTS.name);
}

/** Whether a Redmine started by this project (pid file) runs. */
export function redmineStartedByInfra(options: Pick<RedmineOptions, 'env' | 'paths' | 'name'> = {}): boolean {
  return startedPid(options.paths ?? infraPaths(options.env), options.name ?? REDMINE_DEFAULTS.name) !== undefined;
}

export async function redmineStatus(options: Pick<RedmineOptions, 'env' | 'paths' | 'name' | 'port'> = {}): Promise<ServiceStatus> {
  const address = `http://127.0.0.1:${options.port ?? REDMINE_DEFAULTS.port}`;
  const version = installedRedmineVersion();
  const healthy = version !== undefined && (await httpOk(`${address}/projects.json`, {}, 3000));
  return {
    name: 'redmine',
    address,
    healthy,
    startedByUs: redmineStartedByInfra(options),
    startedNow: false,
    detail: version ? `Debian redmine ${version}` : 'not installed',
  };
}
