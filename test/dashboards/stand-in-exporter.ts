import http from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * An exporter for the agreed metric catalogue (names and labels exactly as in ARCHITECTURE.md and the metric
 * catalogue), driven through an incident in which every panel has data and every alert condition holds.
 *
 * This is NOT the proxy, relay or sync consumer: it stands in for them until they can be started from the test, and
 * proves that the dashboards and rules evaluate against series of the agreed shape on the real Prometheus. It does not
 * prove that the components emit that shape.
 */
export class CatalogueScenario {
  readonly registry = new Registry();
  private readonly server = http.createServer((request, response) => {
    this.registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
      (error: Error) => response.writeHead(500).end(error.message),
    );
  });
  private ticker: NodeJS.Timeout | undefined;
  private tick = 0;

  private readonly proxyRequests = new Counter({ name: 'strangler_proxy_requests_total', help: 'catalogue', labelNames: ['route', 'target', 'method', 'code'], registers: [this.registry] });
  private readonly proxyDuration = new Histogram({
    name: 'strangler_proxy_request_duration_seconds',
    help: 'catalogue',
    labelNames: ['route', 'target'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  private readonly fallbacks = new Counter({ name: 'strangler_proxy_fallbacks_total', help: 'catalogue', labelNames: ['route', 'reason'], registers: [this.registry] });
  private readonly shadow = new Counter({ name: 'strangler_proxy_shadow_comparisons_total', help: 'catalogue', labelNames: ['route', 'result'], registers: [this.registry] });
  private readonly configReloads = new Counter({ name: 'strangler_proxy_config_reloads_total', help: 'catalogue', labelNames: ['result'], registers: [this.registry] });
  private readonly published = new Counter({ name: 'strangler_outbox_published_total', help: 'catalogue', labelNames: ['relay', 'aggregatetype'], registers: [this.registry] });
  private readonly publishLatency = new Histogram({
    name: 'strangler_outbox_publish_latency_seconds',
    help: 'catalogue',
    labelNames: ['relay'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  private readonly publishErrors = new Counter({ name: 'strangler_outbox_publish_errors_total', help: 'catalogue', labelNames: ['relay', 'code'], registers: [this.registry] });
  private readonly dlq = new Counter({ name: 'strangler_outbox_dlq_total', help: 'catalogue', labelNames: ['relay'], registers: [this.registry] });
  private readonly syncEvents = new Counter({ name: 'strangler_sync_events_total', help: 'catalogue', labelNames: ['consumer', 'aggregatetype', 'outcome'], registers: [this.registry] });

  constructor() {
    const gauge = (name: string, labelNames: string[], values: Array<[Record<string, string>, number]>) => {
      const metric = new Gauge({ name, help: 'catalogue', labelNames, registers: [this.registry] });
      for (const [labels, value] of values) {
        if (labelNames.length) metric.set(labels, value);
        else metric.set(value);
      }
    };
    // Incident state: flags lost, the users circuit open, a relay far behind, drift found by verify.
    gauge('strangler_proxy_circuit_state', ['cluster'], [[{ cluster: 'users' }, 2], [{ cluster: 'catalog' }, 0]]);
    gauge('strangler_proxy_flags_ready', [], [[{}, 0]]);
    gauge('strangler_proxy_route_rollout_percent', ['route'], [[{ route: 'users' }, 50], [{ route: 'catalog' }, 100]]);
    gauge('strangler_proxy_config_reload_failed', [], [[{}, 1]]);
    gauge('strangler_outbox_slot_lag_bytes', ['relay'], [[{ relay: 'legacy-cdc' }, 300 * 1024 * 1024]]);
    gauge('strangler_outbox_backlog_events', ['relay'], [[{ relay: 'legacy-cdc' }, 1200]]);
    gauge('strangler_outbox_lag_seconds', ['relay'], [[{ relay: 'legacy-cdc' }, 95]]);
    gauge('strangler_outbox_leader', ['relay'], [[{ relay: 'legacy-cdc' }, 1]]);
    gauge('strangler_sync_consumer_lag_messages', ['consumer', 'topic'], [[{ consumer: 'users-sync', topic: 'outbox.event.user' }, 40]]);
    gauge('strangler_sync_drift_rows', ['aggregatetype'], [[{ aggregatetype: 'order' }, 3], [{ aggregatetype: 'user' }, 0]]);
  }

  /** Serves /metrics on 127.0.0.1:`port` and generates traffic every `tickMs`. */
  async start(port: number, tickMs = 100): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.ticker = setInterval(() => this.step(), tickMs);
    this.ticker.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.ticker);
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * One tick: users is half moved and its extracted side fails 20 % of requests at ~400 ms while legacy answers in
   * ~10 ms; catalog is fully moved and healthy. Every counter grows from 0, so increase() and rate() see it.
   */
  private step(): void {
    this.tick += 1;
    const extractedFails = this.tick % 5 === 0;
    this.proxyRequests.inc({ route: 'users', target: 'legacy', method: 'GET', code: '200' });
    this.proxyDuration.observe({ route: 'users', target: 'legacy' }, 0.008);
    this.proxyRequests.inc({ route: 'users', target: 'extracted', method: 'GET', code: extractedFails ? '502' : '200' });
    this.proxyDuration.observe({ route: 'users', target: 'extracted' }, 0.4);
    this.proxyRequests.inc({ route: 'catalog', target: 'extracted', method: 'GET', code: '200' });
    this.proxyDuration.observe({ route: 'catalog', target: 'extracted' }, 0.02);
    this.fallbacks.inc({ route: 'users', reason: 'circuit_open' });
    this.fallbacks.inc({ route: 'users', reason: 'flags_not_ready' });
    this.shadow.inc({ route: 'catalog', result: this.tick % 3 === 0 ? 'mismatch' : 'match' });
    this.shadow.inc({ route: 'catalog', result: 'dropped' });
    this.configReloads.inc({ result: this.tick % 2 === 0 ? 'failure' : 'success' });
    this.published.inc({ relay: 'legacy-cdc', aggregatetype: 'user' });
    this.published.inc({ relay: 'legacy-cdc', aggregatetype: 'order' });
    this.publishLatency.observe({ relay: 'legacy-cdc' }, 0.03);
    this.publishErrors.inc({ relay: 'legacy-cdc', code: 'SFG_OUTBOX_PUBLISH_FAILED' });
    this.dlq.inc({ relay: 'legacy-cdc' });
    for (const outcome of ['applied', 'duplicate', 'stale', 'conflict', 'retried', 'dlq']) {
      this.syncEvents.inc({ consumer: 'users-sync', aggregatetype: 'user', outcome });
    }
  }
}
