import type { ParseArgsConfig } from 'node:util';
import type { Pool } from 'pg';
import type { AggregateType } from '../../extracted/common/aggregates';
import { parseAggregates, resolveDatabases } from '../../extracted/migration';
import { resolveEnvironment } from '../../infra';
import { UsageError } from '../command';

/** The options `backfill` and `verify` share: which databases to compare or copy between. */
export const DATABASE_OPTIONS = {
  service: { type: 'string' },
  'database-prefix': { type: 'string' },
  source: { type: 'string' },
  target: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const DATABASE_OPTIONS_HELP = `  --service <name>      target service database strangler_<name> (default: the aggregate's owner:
                        user->users, product->catalog, order->orders, payment->payments)
  --database-prefix <p> demo databases <p>_legacy, <p>_<service> (default strangler; see strangler demo)
  --source <url>        source database URL (default: strangler_legacy on DATABASE_URL's server)
  --target <url>        target database URL (overrides --service)`;

/** The one positional argument, `<aggregate|all>`, as aggregate types. */
export function aggregatesArgument(positionals: string[]): AggregateType[] {
  if (positionals.length !== 1) throw new UsageError('exactly one aggregate is required');
  try {
    return parseAggregates(positionals[0]);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Connects once, so that an unreachable database is named (role and address) rather than left as ECONNREFUSED. */
export async function reachable(pool: Pool, role: string, url: string): Promise<void> {
  try {
    await pool.query('select 1');
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    throw new Error(`cannot reach the ${role} database ${redactedUrl(url)}: ${code && !message.includes(code) ? `${code} ` : ''}${message}`, { cause: error });
  }
}

function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

export function databasesFor(
  aggregateType: AggregateType,
  values: { service?: string; 'database-prefix'?: string; source?: string; target?: string },
): ReturnType<typeof resolveDatabases> {
  return resolveDatabases(aggregateType, {
    databaseUrl: resolveEnvironment().databaseUrl,
    databasePrefix: values['database-prefix'],
    service: values.service,
    source: values.source,
    target: values.target,
  });
}
