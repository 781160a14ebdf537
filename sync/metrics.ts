import { Gauge, type Registry } from 'prom-client';

/** strangler_sync_drift_rows{aggregatetype}: rows that differ between legacy and the service at the last verify. */
export function createDriftGauge(registry: Registry): Gauge<'aggregatetype'> {
  return new Gauge({
    name: 'strangler_sync_drift_rows',
    help: 'Rows of an aggregate that are missing, stale or different between legacy and its service, as of the last strangler verify',
    labelNames: ['aggregatetype'],
    registers: [registry],
  });
}
