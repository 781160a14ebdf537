import { Counter, type Registry } from 'prom-client';

/** What the table-capture relay counts beside the relay metrics (createRelayMetrics). */
export function createCaptureMetrics(registry: Registry, relay: string) {
  const truncates =
    (registry.getSingleMetric('strangler_capture_truncates_skipped_total') as Counter<'relay' | 'table'> | undefined) ??
    new Counter({
      name: 'strangler_capture_truncates_skipped_total',
      help: "TRUNCATEs of captured tables that were not published (Debezium skips them by default): the consumers' copies keep the rows.",
      labelNames: ['relay', 'table'] as const,
      registers: [registry],
    });
  return {
    truncateSkipped: (table: string) => truncates.labels(relay, table).inc(),
  };
}

export type CaptureMetrics = ReturnType<typeof createCaptureMetrics>;
