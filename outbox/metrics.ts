import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Returns the metric already registered under this name (several relays may share a registry) or creates it. */
function reuse<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function createRelayMetrics(registry: Registry, relay: string) {
  const registers = [registry];
  const published = reuse(registry, 'strangler_outbox_published_total', () => new Counter({
    name: 'strangler_outbox_published_total',
    help: 'Outbox events acknowledged by Kafka (acks=all), by aggregate type.',
    labelNames: ['relay', 'aggregatetype'] as const,
    registers,
  }));
  const latency = reuse(registry, 'strangler_outbox_publish_latency_seconds', () => new Histogram({
    name: 'strangler_outbox_publish_latency_seconds',
    help: 'Time from the event\'s commit (CDC) or created_at (polling) to the Kafka acknowledgement.',
    labelNames: ['relay'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  }));
  const slotLag = reuse(registry, 'strangler_outbox_slot_lag_bytes', () => new Gauge({
    name: 'strangler_outbox_slot_lag_bytes',
    help: 'CDC: pg_current_wal_lsn() - confirmed_flush_lsn of the relay\'s replication slot.',
    labelNames: ['relay'] as const,
    registers,
  }));
  const backlog = reuse(registry, 'strangler_outbox_backlog_events', () => new Gauge({
    name: 'strangler_outbox_backlog_events',
    help: 'Events read from the database and not yet acknowledged by Kafka.',
    labelNames: ['relay'] as const,
    registers,
  }));
  const lag = reuse(registry, 'strangler_outbox_lag_seconds', () => new Gauge({
    name: 'strangler_outbox_lag_seconds',
    help: 'Age of the oldest event read and not yet acknowledged (0 when idle).',
    labelNames: ['relay'] as const,
    registers,
  }));
  const errors = reuse(registry, 'strangler_outbox_publish_errors_total', () => new Counter({
    name: 'strangler_outbox_publish_errors_total',
    help: 'Failed Kafka sends and unpublishable events, by error code.',
    labelNames: ['relay', 'code'] as const,
    registers,
  }));
  const dlq = reuse(registry, 'strangler_outbox_dlq_total', () => new Counter({
    name: 'strangler_outbox_dlq_total',
    help: 'Unpublishable events sent to the dead-letter topic.',
    labelNames: ['relay'] as const,
    registers,
  }));
  const leader = reuse(registry, 'strangler_outbox_leader', () => new Gauge({
    name: 'strangler_outbox_leader',
    help: '1 while this relay instance holds the leadership lock and publishes.',
    labelNames: ['relay'] as const,
    registers,
  }));
  const publishedByType = new Map<string, ReturnType<typeof published.labels>>();
  return {
    /** Cached child per aggregate type: the hot path does no label lookups. */
    published(aggregateType: string) {
      let child = publishedByType.get(aggregateType);
      if (!child) {
        child = published.labels(relay, aggregateType);
        publishedByType.set(aggregateType, child);
      }
      return child;
    },
    latency: latency.labels(relay),
    slotLag: slotLag.labels(relay),
    backlog: backlog.labels(relay),
    lag: lag.labels(relay),
    errors: (code: string) => errors.labels(relay, code),
    dlq: dlq.labels(relay),
    leader: leader.labels(relay),
  };
}

export type RelayMetrics = ReturnType<typeof createRelayMetrics>;

export function createInboxMetrics(registry: Registry, consumer: string) {
  const registers = [registry];
  const events = reuse(registry, 'strangler_sync_events_total', () => new Counter({
    name: 'strangler_sync_events_total',
    help: 'Events handled by an inbox consumer, by outcome: applied, duplicate, stale, conflict, skipped, retried, dlq.',
    labelNames: ['consumer', 'aggregatetype', 'outcome'] as const,
    registers,
  }));
  const lag = reuse(registry, 'strangler_sync_consumer_lag_messages', () => new Gauge({
    name: 'strangler_sync_consumer_lag_messages',
    help: 'High watermark minus the next offset to process, summed over the topic\'s partitions.',
    labelNames: ['consumer', 'topic'] as const,
    registers,
  }));
  const databaseErrors = reuse(registry, 'strangler_sync_database_unavailable_total', () => new Counter({
    name: 'strangler_sync_database_unavailable_total',
    help: 'Transactions an inbox consumer could not run because its database connection failed or was refused; the event waits, it is not retried or dead-lettered.',
    labelNames: ['consumer'] as const,
    registers,
  }));
  return {
    outcome: (aggregateType: string, outcome: string, count = 1) => events.labels(consumer, aggregateType, outcome).inc(count),
    lag: (topic: string, messages: number) => lag.labels(consumer, topic).set(messages),
    databaseUnavailable: () => databaseErrors.labels(consumer).inc(),
  };
}

export type InboxMetrics = ReturnType<typeof createInboxMetrics>;
