import { Counter, Gauge, type Registry } from 'prom-client';

/** strangler_sync_drift_rows{aggregatetype}: rows that differ between legacy and the service at the last verify. */
export function createDriftGauge(registry: Registry): Gauge<'aggregatetype'> {
  return new Gauge({
    name: 'strangler_sync_drift_rows',
    help: 'Rows of an aggregate that are missing, stale or different between legacy and its service, as of the last strangler verify',
    labelNames: ['aggregatetype'],
    registers: [registry],
  });
}

/** strangler_sync_conflicts_total{aggregatetype,kind}: writes of one side that lost to a concurrent write of the other. */
export function createConflictCounter(registry: Registry): Counter<'aggregatetype' | 'kind'> {
  const name = 'strangler_sync_conflicts_total';
  return (
    (registry.getSingleMetric(name) as Counter<'aggregatetype' | 'kind'> | undefined) ??
    new Counter({
      name,
      help: "Concurrent writes of the two sides to one aggregate, by Postgres 18's conflict kind: the owner's write was kept, the other recorded in strangler_sync_conflicts",
      labelNames: ['aggregatetype', 'kind'],
      registers: [registry],
    })
  );
}
