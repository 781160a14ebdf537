import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { Pool } from 'undici';
import { CircuitBreaker } from './circuit';
import type { ClusterConfig } from './options';

/** One upstream cluster at run time: its keep-alive pool, breaker and health state. */
export class ClusterRuntime {
  /** Forwarded requests and health checks (undici: far less CPU per request than http.request + Agent). */
  readonly pool: Pool;
  readonly breaker: CircuitBreaker;
  /** For WebSocket upgrades and shadow copies, which stay on node:http. */
  readonly transport: typeof http | typeof https;
  readonly hostname: string;
  readonly port: number;
  /** Host header sent upstream unless `preserveHost`. */
  readonly hostHeader: string;
  /** Path prefix of the cluster URL ('' for none), prepended to forwarded paths. */
  readonly basePath: string;
  /** Serialised config: a reload keeps this runtime (and its pool) when unchanged. */
  readonly signature: string;
  healthy: boolean | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private retireTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly name: string,
    readonly config: ClusterConfig,
    private readonly logger: Logger,
  ) {
    const url = new URL(config.url);
    const secure = url.protocol === 'https:';
    this.transport = secure ? https : http;
    this.hostname = url.hostname.replace(/^\[|\]$/g, '');
    this.port = url.port ? Number(url.port) : secure ? 443 : 80;
    this.hostHeader = url.host;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.signature = JSON.stringify(config);
    this.pool = new Pool(url.origin, {
      connections: config.maxSockets,
      connectTimeout: config.connectTimeoutMs,
      // The exchange bounds the wait for response headers itself (pool queueing and connect included, to the
      // millisecond; undici's own timers tick at about 0.5 s). A started body may stream as long as it flows
      // (server-sent events), as it did on node:http.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.breaker = new CircuitBreaker(config.circuit.failureThreshold, config.circuit.openMs);
  }

  startHealthChecks(): void {
    if (this.healthTimer) return;
    this.checkHealth();
    this.healthTimer = setInterval(() => this.checkHealth(), this.config.healthIntervalMs);
    this.healthTimer.unref();
  }

  /** A cluster is healthy when its health path answers below 500 within the connect + response timeout. */
  private checkHealth(): void {
    this.pool
      .request({
        method: 'GET',
        path: this.basePath + this.config.healthPath,
        headers: { host: this.hostHeader },
        signal: AbortSignal.timeout(this.config.connectTimeoutMs + this.config.responseTimeoutMs),
      })
      .then(
        (response) => {
          response.body.dump().catch(() => undefined);
          this.setHealthy(response.statusCode < 500);
        },
        () => this.setHealthy(false),
      );
  }

  private setHealthy(healthy: boolean): void {
    if (this.closed) return;
    if (this.healthy !== healthy) this.logger.info({ cluster: this.name, healthy }, 'cluster health changed');
    this.healthy = healthy;
  }

  private stopHealthChecks(): void {
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = undefined;
  }

  /**
   * A reload replaced this cluster: health checks stop now. Its pool closes gracefully (running responses, streams
   * included, finish) once requests that started on the previous route table can no longer begin a fallback or
   * retry on it.
   */
  retire(): void {
    this.stopHealthChecks();
    if (this.retireTimer || this.closed) return;
    this.retireTimer = setTimeout(() => {
      this.closed = true;
      void this.pool.close();
    }, 2 * (this.config.connectTimeoutMs + this.config.responseTimeoutMs));
    this.retireTimer.unref();
  }

  /** For the proxy's shutdown, once its server has closed: stops health checks and drops every connection. Idempotent. */
  async close(): Promise<void> {
    this.stopHealthChecks();
    clearTimeout(this.retireTimer);
    if (this.pool.destroyed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}
