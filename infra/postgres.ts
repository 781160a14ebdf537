import { spawnSync } from 'node:child_process';
import { Client } from 'pg';
import { InfraError } from './errors';
import { PROJECT_DATABASES, type InfraEnvironment } from './options';
import { retrying, sleep } from './process';
import type { ServiceStatus } from './types';

interface RequiredSetting {
  name: string;
  value: string;
  satisfiedBy(current: string): boolean;
}

/**
 * Server settings the relays need. Every CDC relay holds one replication slot and one WAL sender; the demo runs five
 * and a test run a few more, so the defaults of 10 are raised.
 */
const REQUIRED_SETTINGS: RequiredSetting[] = [
  { name: 'wal_level', value: 'logical', satisfiedBy: (current) => current === 'logical' },
  { name: 'max_replication_slots', value: '32', satisfiedBy: (current) => Number(current) >= 32 },
  { name: 'max_wal_senders', value: '32', satisfiedBy: (current) => Number(current) >= 32 },
];

/** How long infra keeps retrying a Postgres that does not answer (a restart, a busy machine). */
const POSTGRES_DEADLINE_MS = 60_000;

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Connection refused or reset, connect timeout, or the server starting up or shutting down (SQLSTATE 57P0x). */
function isTransient(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  if (code && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|57P01|57P02|57P03|53300)$/.test(code)) return true;
  return /timeout expired|Connection terminated|connection timeout/i.test(message ?? '');
}

/** `withClient`, retried with backoff while the server cannot be reached or is still starting up. */
function withClientRetrying<T>(url: string, work: (client: Client) => Promise<T>, timeoutMs = POSTGRES_DEADLINE_MS): Promise<T> {
  return retrying('postgres', () => withClient(url, work), { address: redactedAddress(url), timeoutMs, intervalMs: 250, retryOn: isTransient });
}

export async function postgresHealthy(url: string): Promise<boolean> {
  return withClient(url, async (client) => (await client.query('select 1 as ok')).rows[0]?.ok === 1).catch(() => false);
}

function redactedAddress(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
}

/** Creates the database when it does not exist yet (retrying while Postgres is unreachable). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<boolean> {
  return withClientRetrying(adminUrl, async (client) => {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount) return false;
    await client.query(`create database "${name.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
      // Another process created it between the check and here.
      if (error.code !== '42P04' && error.code !== '23505') throw error;
    });
    return true;
  });
}

/**
 * Makes sure logical replication is possible. On the local cluster it sets wal_level=logical and restarts
 * (idempotent: nothing happens when it is already set). A user-supplied DATABASE_URL is only checked.
 */
export async function postgresUp(env: InfraEnvironment, log: (line: string) => void): Promise<ServiceStatus> {
  const address = redactedAddress(env.databaseUrl);
  await withClientRetrying(env.databaseUrl, (client) => client.query('select 1'), 15_000).catch((error: Error) => {
    throw new InfraError('SFG_INFRA_START_FAILED', `${error.message}; start PostgreSQL 13+ or set DATABASE_URL`, { cause: error });
  });
  const { changes, versionNum } = await withClientRetrying(env.databaseUrl, async (client) => {
    const current = await client.query<{ name: string; setting: string }>(
      'select name, setting from pg_settings where name = any($1)',
      [REQUIRED_SETTINGS.map((required) => required.name)],
    );
    const version = await client.query<{ server_version_num: string }>('show server_version_num');
    const settings = new Map(current.rows.map((row) => [row.name, row.setting]));
    return {
      changes: REQUIRED_SETTINGS.filter((required) => !required.satisfiedBy(settings.get(required.name) ?? '')).map(
        (required) => ({ ...required, current: settings.get(required.name) ?? '' }),
      ),
      versionNum: Number(version.rows[0]!.server_version_num),
    };
  });

  if (changes.length) {
    const wanted = changes.map((change) => `${change.name}=${change.value}`).join(', ');
    const found = changes.map((change) => `${change.name} is '${change.current}'`).join(', ');
    if (env.external.postgres) {
      throw new InfraError(
        'SFG_INFRA_POSTGRES_CONFIG',
        `postgres: ${found} on ${address}; strangler-fig needs ${wanted} for logical replication (ALTER SYSTEM SET ..., then restart)`,
      );
    }
    const major = Math.floor(versionNum / 10000);
    log(`postgres: ${found}; setting ${wanted} and restarting cluster ${major}/main`);
    await withClientRetrying(env.databaseUrl, async (client) => {
      for (const change of changes) await client.query(`alter system set ${change.name} = '${change.value}'`);
    });
    const restart = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', String(major), 'main', 'restart'], {
      encoding: 'utf8',
    });
    if (restart.status !== 0) {
      throw new InfraError(
        'SFG_INFRA_POSTGRES_CONFIG',
        `postgres: restart with pg_ctlcluster ${major} main failed (${restart.stderr.trim() || restart.error?.message}); restart PostgreSQL yourself to apply ${wanted}`,
      );
    }
    await sleep(500);
    await withClientRetrying(env.databaseUrl, (client) => client.query('select 1'));
    log(`postgres: ${wanted} active`);
  }

  const created: string[] = [];
  for (const name of PROJECT_DATABASES) {
    if (await ensureDatabase(env.databaseUrl, name)) created.push(name);
  }
  if (created.length) log(`postgres: created databases ${created.join(', ')}`);
  return { name: 'postgres', address, healthy: true, startedByUs: false, startedNow: false, detail: REQUIRED_SETTINGS.map((required) => `${required.name}=${required.value}`).join(' ') };
}

export async function postgresStatus(env: InfraEnvironment): Promise<ServiceStatus> {
  const address = redactedAddress(env.databaseUrl);
  const healthy = await postgresHealthy(env.databaseUrl);
  let detail: string | undefined;
  if (healthy) {
    detail = await withClient(env.databaseUrl, async (client) => `wal_level=${(await client.query('show wal_level')).rows[0].wal_level}`);
  }
  return { name: 'postgres', address, healthy, startedByUs: false, startedNow: false, detail };
}
