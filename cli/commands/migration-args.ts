import type { ParseArgsConfig } from 'node:util';
import { Pool } from 'pg';
import { isMySqlUrl, loadMappingFile, MySqlDatabase, openAggregates, selectAggregates, type Mapping, type MigrationStores } from '../../sync';
import { UsageError } from '../command';
import { databaseUrl } from '../environment';

/** The options `backfill` and `verify` share: the mapping and a connection string per side. */
export const DATABASE_OPTIONS = {
  mapping: { type: 'string' },
  legacy: { type: 'string' },
  service: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const DATABASE_OPTIONS_HELP = `  --mapping <file>      the data mapping (YAML; see docs/sync.md). Env STRANGLER_MAPPING
  --legacy <url>        the legacy database: postgres://, or mysql:// for MySQL/MariaDB (add ?timezone=+02:00
                        when its DATETIME values are not in UTC). Env STRANGLER_LEGACY_URL, else DATABASE_URL
  --service <url>       the service database. Env STRANGLER_SERVICE_URL`;

export interface MigrationTarget {
  mapping: Mapping;
  /** The legacy side's connection: a pg pool, or a MySqlDatabase for a mysql:// URL. */
  pools: { legacy: Pool | MySqlDatabase; service: Pool };
  /** The selected aggregates, each checked against the live schema of both databases. */
  aggregates: MigrationStores[];
  urls: { legacy: string; service: string };
  close(): Promise<void>;
}

/** Loads the mapping, connects to both sides (naming one it cannot reach) and checks the mapping against them. */
export async function openMigrationTarget(
  positionals: string[],
  values: { mapping?: string; legacy?: string; service?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<MigrationTarget> {
  if (positionals.length === 0) throw new UsageError('name the aggregates to work on (as in the mapping), or all');
  const file = values.mapping ?? env.STRANGLER_MAPPING;
  if (!file) throw new UsageError('--mapping <file> is required (or set STRANGLER_MAPPING)');
  const urls = { legacy: values.legacy ?? env.STRANGLER_LEGACY_URL ?? databaseUrl(env), service: values.service ?? env.STRANGLER_SERVICE_URL };
  if (!urls.service) throw new UsageError('--service <url> is required (or set STRANGLER_SERVICE_URL)');
  const mapping = loadMappingFile(file);
  const selected = (() => {
    try {
      return selectAggregates(mapping, positionals);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  })();
  if (isMySqlUrl(urls.service)) throw new UsageError('a service database in MySQL/MariaDB is not supported yet: --service takes a postgres:// URL');
  const pools = {
    legacy: legacyConnection(urls.legacy, 2),
    service: new Pool({ connectionString: urls.service, max: 2 }),
  };
  const close = async () => {
    await Promise.all([pools.legacy.end(), pools.service.end()]);
  };
  try {
    await reachable(pools.legacy, 'legacy', urls.legacy);
    await reachable(pools.service, 'service', urls.service);
    const aggregates = await openAggregates(mapping, selected, pools);
    return { mapping, pools, aggregates, urls: { legacy: urls.legacy, service: urls.service }, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The legacy database of a URL: a pg pool, or a MySqlDatabase for mysql:// (or mariadb://); a MySQL URL it cannot
 * take (a zone that is not an offset) is a usage error naming --legacy.
 */
export function legacyConnection(url: string, max: number): Pool | MySqlDatabase {
  if (!isMySqlUrl(url)) return new Pool({ connectionString: url, max });
  try {
    return new MySqlDatabase(url, { connectionLimit: max });
  } catch (error) {
    throw new UsageError(`--legacy ${redactedUrl(url)}: ${(error as Error).message}`);
  }
}

/** Connects once, so that an unreachable database is named (role and address) rather than left as ECONNREFUSED. */
export async function reachable(pool: { query(sql: string): Promise<unknown> }, role: string, url: string): Promise<void> {
  try {
    await pool.query('select 1');
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    throw new Error(`cannot reach the ${role} database ${redactedUrl(url)}: ${code && !message.includes(code) ? `${code} ` : ''}${message}`, { cause: error });
  }
}

export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** The database name of a URL, for labels (`strangler_catalog`). */
export function databaseName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.slice(1)) || 'service';
  } catch {
    return 'service';
  }
}
