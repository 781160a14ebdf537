import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { CircuitBreaker } from './circuit';
import type { ClusterConfig } from './options';

/**
 * Bounds how long a new pooled connection may take to establish; set once on the agent, so requests that reuse a
 * keep-alive socket pay nothing for it. A timed-out connect fails its request like a refused one.
 */
function limitConnectTime(agent: http.Agent, connectTimeoutMs: number): void {
  const createConnection = (agent as unknown as { createConnection: (...args: unknown[]) => Socket }).createConnection.bind(agent);
  (agent as unknown as { createConnection: (...args: unknown[]) => Socket }).createConnection = (...args: unknown[]) => {
    const socket = createConnection(...args);
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connect timed out after ${connectTimeoutMs} ms`), { code: 'ECONNECTTIMEOUT' })), connectTimeoutMs);
    timer.unref();
    socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
    return socket;
  };
}

/** One upstream cluster at run time: its keep-alive pool, breaker and health state. */
export class ClusterRuntime {
  readonly agent: http.Agent;
  readonly breaker: CircuitBreaker;
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
    const agentOptions = { keepAlive: true, maxSockets: config.maxSockets, maxFreeSockets: config.maxSockets, scheduling: 'lifo' as const };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    limitConnectTime(this.agent, config.connectTimeoutMs);
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
    const request = this.transport.request(
      { agent: this.agent, hostname: this.hostname, port: this.port, method: 'GET', path: this.basePath + this.config.healthPath, headers: { host: this.hostHeader } },
      (response) => {
        response.resume();
        this.setHealthy((response.statusCode ?? 500) < 500);
      },
    );
    request.setTimeout(this.config.connectTimeoutMs + this.config.responseTimeoutMs, () => request.destroy(new Error('health check timed out')));
    request.on('error', () => this.setHealthy(false));
    request.end();
  }

  private setHealthy(healthy: boolean): void {
    if (this.healthy !== healthy) this.logger.info({ cluster: this.name, healthy }, 'cluster health changed');
    this.healthy = healthy;
  }

  /** Stops health checks; idle pooled sockets close now, busy ones when their response ends. */
  close(): void {
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = undefined;
    for (const sockets of Object.values(this.agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
    this.agent.maxFreeSockets = 0; // sockets of in-flight responses close when they are released
  }
}
