import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BatchedCounter, BatchedHistogram, type CountSlot, type HistogramSlot } from './batched-metrics';

export type Target = 'legacy' | 'extracted';
export type FallbackReason = 'connect_error' | 'timeout' | 'upstream_5xx' | 'circuit_open' | 'flags_not_ready';
export type ShadowResult = 'match' | 'mismatch' | 'lag' | 'error' | 'dropped';

/** Values sampled when Prometheus scrapes, so the hot path never touches these gauges. */
export interface ProxyGaugeSources {
  flagsReady(): boolean;
  circuitStates(): Array<{ cluster: string; state: number }>;
  routeRollouts(): Array<{ route: string; percent: number }>;
  endpoints(): Array<{ cluster: string; endpoint: string; up: boolean; outstanding: number }>;
}

export interface ProxyMetrics {
  /** Per request: counted by the request path in slots (see batched-metrics.ts), handed over on each scrape. */
  requests: BatchedCounter<'route' | 'target' | 'method' | 'code'>;
  duration: BatchedHistogram<'route' | 'target'>;
  fallbacks: Counter<'route' | 'reason'>;
  shadowComparisons: Counter<'route' | 'result'>;
  configReloads: Counter<'result'>;
  configReloadFailed: Gauge;
  consistencyWaits: Counter<'route' | 'outcome'>;
  consistencyWaitDuration: Histogram<'route'>;
  consistencyTracked: Gauge;
  endpointEjections: Counter<'cluster' | 'endpoint'>;
}

/**
 * In worker mode the primary merges every worker's metrics (prom-client's AggregatorRegistry): counters and
 * histograms add up; flags are ready when ready in every worker (min); a circuit shows its most open state, a rollout
 * and a reload the highest value (max); workers share their tracked users, so that gauge is the max too.
 */
export function createProxyMetrics(registry: Registry, sources: ProxyGaugeSources): ProxyMetrics {
  const registers = [registry];
  new Gauge({
    name: 'strangler_proxy_flags_ready',
    help: '1 when the flag provider is ready (before that every request goes to legacy)',
    registers,
    aggregator: 'min',
    collect() {
      this.set(sources.flagsReady() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'strangler_proxy_circuit_state',
    help: 'Circuit breaker state per cluster: 0 closed, 1 half-open, 2 open',
    labelNames: ['cluster'],
    registers,
    aggregator: 'max',
    collect() {
      this.reset();
      for (const { cluster, state } of sources.circuitStates()) this.set({ cluster }, state);
    },
  });
  new Gauge({
    name: 'strangler_proxy_route_rollout_percent',
    help: "Rollout percentage of the route's flag (0 when off, 100 for a route without flag)",
    labelNames: ['route'],
    registers,
    aggregator: 'max',
    collect() {
      this.reset();
      for (const { route, percent } of sources.routeRollouts()) this.set({ route }, percent);
    },
  });
  new Gauge({
    name: 'strangler_proxy_endpoint_up',
    help: "1 while a cluster endpoint gets traffic: its active health check passes (or has not run yet) and outlier detection has not ejected it",
    labelNames: ['cluster', 'endpoint'],
    registers,
    aggregator: 'min',
    collect() {
      this.reset();
      for (const { cluster, endpoint, up } of sources.endpoints()) this.set({ cluster, endpoint }, up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'strangler_proxy_endpoint_outstanding_requests',
    help: 'Requests sent to a cluster endpoint and not answered yet (what least-outstanding balancing compares)',
    labelNames: ['cluster', 'endpoint'],
    registers,
    aggregator: 'sum',
    collect() {
      this.reset();
      for (const { cluster, endpoint, outstanding } of sources.endpoints()) this.set({ cluster, endpoint }, outstanding);
    },
  });
  return {
    requests: new BatchedCounter({
      name: 'strangler_proxy_requests_total',
      help: 'Requests answered, by route id (unmatched for the default), target side, method and status code',
      labelNames: ['route', 'target', 'method', 'code'],
      registers,
    }),
    duration: new BatchedHistogram({
      name: 'strangler_proxy_request_duration_seconds',
      help: 'Time from request arrival to the end of the response, by route and target side',
      labelNames: ['route', 'target'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    fallbacks: new Counter({
      name: 'strangler_proxy_fallbacks_total',
      help: 'Requests meant for an extracted service that legacy answered, by reason',
      labelNames: ['route', 'reason'],
      registers,
    }),
    shadowComparisons: new Counter({
      name: 'strangler_proxy_shadow_comparisons_total',
      help: 'Shadow comparisons by result: match, mismatch (a real difference), lag (a difference replication lag explains), error (shadow call failed) or dropped (queue full, body too large)',
      labelNames: ['route', 'result'],
      registers,
    }),
    configReloads: new Counter({
      name: 'strangler_proxy_config_reloads_total',
      help: 'Configuration reload attempts by result',
      labelNames: ['result'],
      registers,
      aggregator: 'max',
    }),
    configReloadFailed: new Gauge({
      name: 'strangler_proxy_config_reload_failed',
      help: '1 while the last reload attempt failed (the previous route table stays in force)',
      registers,
      aggregator: 'max',
    }),
    consistencyWaits: new Counter({
      name: 'strangler_proxy_consistency_waits_total',
      help: "Requests that waited for their user's recent writes to reach the cluster serving them, by outcome: applied, timeout (went on after consistency.waitMs), error, unsupported (the cluster has no applied endpoint)",
      labelNames: ['route', 'outcome'],
      registers,
    }),
    consistencyWaitDuration: new Histogram({
      name: 'strangler_proxy_consistency_wait_seconds',
      help: "Time a request waited for its user's recent writes to reach the cluster serving it",
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    consistencyTracked: new Gauge({
      name: 'strangler_proxy_consistency_tracked_users',
      help: 'Users (or sessions) whose recent writes the proxy remembers for read-your-writes',
      registers,
      aggregator: 'max',
    }),
    endpointEjections: new Counter({
      name: 'strangler_proxy_endpoint_ejections_total',
      help: 'Times outlier detection took a cluster endpoint out of rotation after consecutive failures (connect error, timeout, 5xx)',
      labelNames: ['cluster', 'endpoint'],
      registers,
    }),
  };
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The request series of one (route, target): the per-request path does a two-level map lookup and adds to plain
 * numbers, without building label objects.
 */
export class RouteTargetMetrics {
  private readonly byMethod = new Map<string, Map<number, CountSlot<'route' | 'target' | 'method' | 'code'>>>();
  private readonly duration: HistogramSlot<'route' | 'target'>;

  constructor(
    private readonly metrics: ProxyMetrics,
    private readonly route: string,
    private readonly target: Target,
  ) {
    this.duration = metrics.duration.slot({ route, target });
  }

  observe(method: string, code: number, seconds: number): void {
    const label = KNOWN_METHODS.has(method) ? method : 'OTHER';
    let byCode = this.byMethod.get(label);
    if (!byCode) {
      byCode = new Map();
      this.byMethod.set(label, byCode);
    }
    let requests = byCode.get(code);
    if (!requests) {
      requests = this.metrics.requests.slot({ route: this.route, target: this.target, method: label, code: String(code) });
      byCode.set(code, requests);
    }
    requests.pending += 1;
    this.duration.observe(seconds);
  }
}
