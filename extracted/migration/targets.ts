import { withDatabase } from '../../infra';
import { AGGREGATE_TYPES, isAggregateType, type AggregateType } from '../common/aggregates';
import { AGGREGATE_OWNER } from '../common/conflicts';
import { MigrationToolError } from './errors';

export const DEFAULT_DATABASE_PREFIX = 'strangler';
export const SERVICE_NAMES = ['users', 'catalog', 'payments', 'orders'] as const;

/** The demo database of `legacy` or a service: `<prefix>_<origin>`, e.g. strangler_legacy, strangler_catalog. */
export function demoDatabase(origin: string, prefix = DEFAULT_DATABASE_PREFIX): string {
  return `${prefix}_${origin}`;
}

/** `all` or one aggregate type; an unknown name is a usage problem listing the valid ones. */
export function parseAggregates(name: string | undefined): AggregateType[] {
  if (name === 'all') return [...AGGREGATE_TYPES];
  if (name && isAggregateType(name)) return [name];
  throw new MigrationToolError('SFG_CASE_UNKNOWN_AGGREGATE', `aggregate must be one of ${AGGREGATE_TYPES.join(', ')} or all, got ${name ?? 'nothing'}`);
}

/**
 * Source and target URLs for one aggregate: explicit URLs win; otherwise legacy's demo database and the demo
 * database of `service` (default: the aggregate's owner), on the server of DATABASE_URL.
 */
export function resolveDatabases(
  aggregateType: AggregateType,
  options: { databaseUrl: string; databasePrefix?: string; source?: string; target?: string; service?: string },
): { source: string; target: string; service: string } {
  const service = options.service ?? AGGREGATE_OWNER[aggregateType];
  if (!options.target && !(SERVICE_NAMES as readonly string[]).includes(service)) {
    throw new MigrationToolError('SFG_CASE_UNKNOWN_SERVICE', `service must be one of ${SERVICE_NAMES.join(', ')}, got ${service}`);
  }
  return {
    source: options.source ?? withDatabase(options.databaseUrl, demoDatabase('legacy', options.databasePrefix)),
    target: options.target ?? withDatabase(options.databaseUrl, demoDatabase(service, options.databasePrefix)),
    service,
  };
}
