import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { Pool } from 'undici';
import { CircuitBreaker } from './circuit';
import type { ClusterConfig } from './options';

/** How an attempt on an endpoint ended, for passive health: `failure` (connect error, timeout, 5xx) or not. */
export type EndpointOutcome = 'success' | 'failure' | 'neutral';

/** Told when outlier detection ejects an endpoint (metrics). */
export interface EndpointEvents {
  ejected(cluster: string, endpoint: UpstreamEndpoint, forMs: number): void;
}

/** One instance of a cluster's service: its keep-alive pool, active and passive health, requests in flight. */
export class UpstreamEndpoint {
  /** Forwarded requests and health checks (undici: far less CPU per request than http.request + Agent). */
  readonly pool: Pool;
  /** For WebSocket upgrades and shadow copies, which stay on node:http. */
  readonly transport: typeof http | typeof https;
  readonly hostname: string;
  readonly port: number;
  /** Host header sent upstream unless `preserveHost`. */
  readonly hostHeader: string;
  /** Path prefix of the URL ('' for none), prepended to forwarded paths. */
  readonly basePath: string;
  /** The active health check's verdict; undefined until the first check. */
  healthy: boolean | undefined;
  /** Attempts sent and not yet ended. */
  outstanding = 0;
  consecutiveFailures = 0;
  ejections = 0;
  /** performance.now() until which passive health keeps it out (0: not ejected). */
  ejectedUntil = 0;

  constructor(
    readonly url: string,
    config: ClusterConfig,
  ) {
    const parsed = new URL(url);
    const secure = parsed.protocol === 'https:';
    this.transport = secure ? https : http;
    this.hostname = parsed.hostname.replace(/^\[|\]$/g, '');
    this.port = parsed.port ? Number(parsed.port) : secure ? 443 : 80;
    this.hostHeader = parsed.host;
    this.basePath = parsed.pathname.replace(/\/+$/, '');
    this.pool = new Pool(parsed.origin, {
      connections: config.maxSockets,
      connectTimeout: config.connectTimeoutMs,
      // The exchange bounds the wait for response headers itself (pool queueing and connect included, to the
      // millisecond; undici's own timers tick at about 0.5 s). A started body may stream as long as it flows
      // (server-sent events), as it did on node:http.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  ejected(now: number): boolean {
    return this.ejectedUntil > now;
  }
}

/**
 * One upstream cluster at run time: its endpoints (each with its keep-alive pool and health), the load-balancing
 * pick among them, passive ejection of a failing one (Envoy's outlier detection), and the cluster's breaker.
 */
export class ClusterRuntime {
  readonly endpoints: readonly UpstreamEndpoint[];
  readonly breaker: CircuitBreaker;
  /** Serialised config: a reload keeps this runtime (and its pools) when unchanged. */
  readonly signature: string;
  private healthTimer: NodeJS.Timeout | undefined;
  private retireTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private next = 0;
  private readonly single: UpstreamEndpoint | undefined;

  constructor(
    readonly name: string,
    readonly config: ClusterConfig,
    private readonly logger: Logger,
    private readonly events?: EndpointEvents,
  ) {
    this.signature = JSON.stringify(config);
    this.endpoints = config.endpoints.map((url) => new UpstreamEndpoint(url, config));
    this.single = this.endpoints.length === 1 ? this.endpoints[0] : undefined;
    this.breaker = new CircuitBreaker(config.circuit.failureThreshold, config.circuit.openMs);
  }

  /** Healthy when any endpoint is (undefined until one has been checked). */
  get healthy(): boolean | undefined {
    let known = false;
    for (const endpoint of this.endpoints) {
      if (endpoint.healthy === true) return true;
      if (endpoint.healthy === false) known = true;
    }
    return known ? false : undefined;
  }

  /**
   * The endpoint for the next attempt: among those neither unhealthy nor ejected, by the cluster's policy. When
   * none is left, every endpoint is a candidate again (Envoy's panic mode): a request tried beats one refused.
   */
  pick(): UpstreamEndpoint {
    if (this.single) return this.single;
    const now = performance.now();
    const candidates = this.endpoints.filter((endpoint) => endpoint.healthy !== false && !endpoint.ejected(now));
    const pool = candidates.length > 0 ? candidates : this.endpoints;
    const start = this.next++ % pool.length;
    if (this.config.loadBalancing === 'round-robin') return pool[start]!;
    let best = pool[start]!;
    for (let offset = 1; offset < pool.length; offset++) {
      const endpoint = pool[(start + offset) % pool.length]!;
      if (endpoint.outstanding < best.outstanding) best = endpoint;
    }
    return best;
  }

  /** An attempt on `endpoint` ended: passive health counts failures in a row and ejects at the threshold. */
  settle(endpoint: UpstreamEndpoint, outcome: EndpointOutcome): void {
    endpoint.outstanding -= 1;
    if (outcome === 'success') endpoint.consecutiveFailures = 0;
    if (outcome !== 'failure' || this.single) return;
    endpoint.consecutiveFailures += 1;
    const detection = this.config.outlierDetection;
    const now = performance.now();
    if (endpoint.consecutiveFailures < detection.consecutiveFailures || endpoint.ejected(now)) return;
    const ejectedNow = this.endpoints.filter((other) => other.ejected(now)).length;
    const allowed = Math.min(this.endpoints.length - 1, Math.floor((this.endpoints.length * detection.maxEjectionPercent) / 100));
    if (ejectedNow >= allowed) return;
    endpoint.ejections += 1;
    const forMs = Math.min(detection.baseEjectionMs * endpoint.ejections, Math.max(detection.maxEjectionMs, detection.baseEjectionMs));
    endpoint.ejectedUntil = now + forMs;
    endpoint.consecutiveFailures = 0;
    this.logger.warn({ cluster: this.name, endpoint: endpoint.url, forMs, ejections: endpoint.ejections }, 'endpoint ejected after consecutive failures');
    this.events?.ejected(this.name, endpoint, forMs);
  }

  startHealthChecks(): void {
    if (this.healthTimer) return;
    this.checkHealth();
    this.healthTimer = setInterval(() => this.checkHealth(), this.config.healthIntervalMs);
    this.healthTimer.unref();
  }

  /** An endpoint is healthy when its health path answers below 500 within the connect + response timeout. */
  private checkHealth(): void {
    for (const endpoint of this.endpoints) {
      endpoint.pool
        .request({
          method: 'GET',
          path: endpoint.basePath + this.config.healthPath,
          headers: { host: endpoint.hostHeader },
          signal: AbortSignal.timeout(this.config.connectTimeoutMs + this.config.responseTimeoutMs),
        })
        .then(
          (response) => {
            response.body.dump().catch(() => undefined);
            this.setHealthy(endpoint, response.statusCode < 500);
          },
          () => this.setHealthy(endpoint, false),
        );
    }
  }

  private setHealthy(endpoint: UpstreamEndpoint, healthy: boolean): void {
    if (this.closed) return;
    if (endpoint.healthy !== healthy) this.logger.info({ cluster: this.name, endpoint: endpoint.url, healthy }, 'endpoint health changed');
    endpoint.healthy = healthy;
  }

  private stopHealthChecks(): void {
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = undefined;
  }

  /**
   * A reload replaced this cluster: health checks stop now. Its pools close gracefully (running responses, streams
   * included, finish) once requests that started on the previous route table can no longer begin a fallback or
   * retry on it.
   */
  retire(): void {
    this.stopHealthChecks();
    if (this.retireTimer || this.closed) return;
    this.retireTimer = setTimeout(() => {
      this.closed = true;
      for (const endpoint of this.endpoints) void endpoint.pool.close();
    }, 2 * (this.config.connectTimeoutMs + this.config.responseTimeoutMs));
    this.retireTimer.unref();
  }

  /** For the proxy's shutdown, once its server has closed: stops health checks and drops every connection. Idempotent. */
  async close(): Promise<void> {
    this.stopHealthChecks();
    clearTimeout(this.retireTimer);
    this.closed = true;
    await Promise.all(this.endpoints.filter((endpoint) => !endpoint.pool.destroyed).map((endpoint) => endpoint.pool.destroy()));
  }
}
