import { MappingInvalidError, type MappingIssue } from './errors';
import type { AggregateMapping, Mapping, SideName } from './options';
import type { MySqlDatabase } from './mysql-store';
import { openSideStore, type MigrationStores } from './side';
import { SideStore, type AggregateStores, type Queryable } from './store';

/**
 * Opens both sides of each aggregate against the live databases. Every table or column the mapping names and the
 * schema lacks is reported at once (MappingInvalidError, code SFG_SYNC_SCHEMA_MISMATCH), before any row is read.
 * A legacy side in MySQL/MariaDB (a MySqlDatabase) is opened for reading: what backfill and verify need.
 */
export async function openAggregates(mapping: Mapping, aggregates: AggregateMapping[], pools: { legacy: Queryable; service: Queryable }): Promise<AggregateStores[]>;
export async function openAggregates(mapping: Mapping, aggregates: AggregateMapping[], pools: { legacy: Queryable | MySqlDatabase; service: Queryable }): Promise<MigrationStores[]>;
export async function openAggregates(mapping: Mapping, aggregates: AggregateMapping[], pools: { legacy: Queryable | MySqlDatabase; service: Queryable }): Promise<MigrationStores[]> {
  const issues: MappingIssue[] = [];
  const opened: MigrationStores[] = [];
  for (const aggregate of aggregates) {
    const at = `aggregates.${aggregate.aggregateType}`;
    const legacy = await openSideStore(pools.legacy, aggregate.legacy, `${at}.legacy`, issues);
    const service = await SideStore.open(pools.service, aggregate.service, `${at}.service`, issues);
    if (legacy && service) {
      if (legacy.keyKind !== service.keyKind) issues.push({ path: `${at}.service.key`, message: `the keys compare differently: ${legacy.keyKind} on legacy, ${service.keyKind} on the service` });
      opened.push({ mapping: aggregate, legacy, service });
    }
  }
  if (issues.length) throw new MappingInvalidError('SFG_SYNC_SCHEMA_MISMATCH', issues, mapping.source);
  return opened;
}

/** Opens one side of the given aggregates (default: every one): what a sync consumer on that side needs. */
export async function openSide(
  mapping: Mapping,
  side: SideName,
  pool: Queryable,
  aggregates: Iterable<AggregateMapping> = mapping.aggregates.values(),
): Promise<Map<string, SideStore>> {
  const issues: MappingIssue[] = [];
  const stores = new Map<string, SideStore>();
  for (const aggregate of aggregates) {
    const store = await SideStore.open(pool, aggregate[side], `aggregates.${aggregate.aggregateType}.${side}`, issues);
    if (store) stores.set(aggregate.aggregateType, store);
  }
  if (issues.length) throw new MappingInvalidError('SFG_SYNC_SCHEMA_MISMATCH', issues, mapping.source);
  return stores;
}
