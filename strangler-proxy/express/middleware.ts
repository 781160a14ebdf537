import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createProxyMiddleware, type RequestHandler } from 'http-proxy-middleware';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { answerAdmin, createAdminHandler, type AdminSource } from '../admin';
import { ClusterRuntime } from '../cluster';
import { decide } from '../decision';
import { badPathError, upstreamConnectError, upstreamTimeoutError } from '../errors';
import type { FlagContext, FlagProvider } from '../flags/provider';
import { requestIdOf, respondWithError } from '../forward';
import { LegacyInventory } from '../inventory';
import { createProxyMetrics, type FallbackReason, type ProxyMetrics, type Target } from '../metrics';
import { configDigest, LEGACY, SAFE_METHODS, type ProxyConfig } from '../options';
import { normalizePath } from '../path';
import { RecentSplits } from '../recent-split';
import { gaugeSources, RouteCounters, RouteTable, type CompiledRoute } from '../route-table';
import { ShadowRunner } from '../shadow';

export interface StranglerMiddlewareOptions {
  /** The same configuration as `strangler proxy` (parseProxyConfig / loadProxyConfigFile); `proxy` is not used. */
  config: ProxyConfig;
  /**
   * A request no route matches: `legacy` forwards it to the legacy cluster, as the standalone proxy does;
   * `next` hands it to the next handler of your express app.
   */
  unmatched?: 'legacy' | 'next';
  /** Serve the admin API (`strangler routes|explain|flip`) on `config.admin` from start(). Default true. */
  admin?: boolean;
}

export interface StranglerMiddlewareDeps {
  logger: Logger;
  registry: Registry;
  flags: FlagProvider;
}

/** The (req, res, next) signature express (4 and 5) and connect call middleware with. */
export type NextFunction = (error?: unknown) => void;
export type Middleware = (req: http.IncomingMessage, res: http.ServerResponse, next: NextFunction) => void;

/** One request on its way: which route, which side, and whether it may still fall back to legacy. */
interface Forwarding {
  route: CompiledRoute;
  method: string;
  /** Normalised, with the query: what the upstream is asked for. */
  path: string;
  target: Target;
  requestId: string;
  startedAt: number;
  attempts: number;
  verdictPending: boolean;
  timedOut: boolean;
  next: NextFunction;
}

const FORWARDING = Symbol('strangler.forwarding');
type Carrier = http.IncomingMessage & { [FORWARDING]?: Forwarding; originalUrl?: string };
const NO_CONTEXT: FlagContext = Object.freeze({});
/** Response headers that belong to the upstream connection, not to the client's. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'trailer', 'te']);

/**
 * The strangler proxy's routing inside an existing express (or connect) app: the same route table, flags, sticky
 * rollouts, fallback rules, circuit breakers and metrics (the same `strangler_proxy_*` series), forwarding through
 * http-proxy-middleware. Mount `handle` before any body parser: the request body is streamed to the upstream.
 * Shadow traffic, WebSockets and hot reload are the standalone proxy's.
 */
export class StranglerMiddleware {
  readonly handle: Middleware;
  private readonly table: RouteTable;
  private readonly clusters = new Map<string, ClusterRuntime>();
  private readonly forwarders = new Map<string, RequestHandler>();
  private readonly agents: http.Agent[] = [];
  private readonly counters = new RouteCounters(() => this.metrics);
  private readonly inventory: LegacyInventory;
  private readonly recentSplits = new RecentSplits(() => this.counters.splits.entries());
  private readonly metrics: ProxyMetrics;
  private readonly logger: Logger;
  private readonly unmatchedToNext: boolean;
  private adminServer: http.Server | undefined;
  private state: 'new' | 'running' | 'stopped' = 'new';

  constructor(
    private readonly options: StranglerMiddlewareOptions,
    private readonly deps: StranglerMiddlewareDeps,
  ) {
    const { config } = options;
    this.logger = deps.logger.child({ component: 'strangler-middleware' });
    this.unmatchedToNext = options.unmatched === 'next';
    this.metrics = createProxyMetrics(deps.registry, gaugeSources(deps.flags, () => this.clusters.values(), () => this.table));
    this.inventory = new LegacyInventory(deps.registry);
    for (const [name, clusterConfig] of Object.entries(config.clusters)) {
      this.clusters.set(name, new ClusterRuntime(name, clusterConfig, this.logger));
      const agentOptions = { keepAlive: true, maxSockets: clusterConfig.maxSockets, scheduling: 'lifo' as const };
      const agent = clusterConfig.url.startsWith('https:') ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
      this.agents.push(agent);
      this.forwarders.set(
        name,
        createProxyMiddleware<http.IncomingMessage, http.ServerResponse>({
          target: clusterConfig.url,
          changeOrigin: !clusterConfig.preserveHost,
          agent,
          xfwd: true,
          proxyTimeout: clusterConfig.responseTimeoutMs,
          selfHandleResponse: true,
          logger: undefined,
          on: {
            proxyReq: (proxyReq, req) => {
              const forwarding = forwardingOf(req);
              forwarding.timedOut = false;
              proxyReq.once('timeout', () => (forwarding.timedOut = true));
              // A repeated (fallback) attempt: the client's bodyless request has already been read to its end.
              if (forwarding.attempts > 1) proxyReq.end();
            },
            proxyRes: (proxyRes, req, res) => this.onResponse(req as Carrier, proxyRes, res as http.ServerResponse),
            error: (error, req, res) => this.onError(req as Carrier, error as NodeJS.ErrnoException, res as http.ServerResponse, name),
          },
        }),
      );
    }
    this.table = new RouteTable(config, this.clusters, this.counters);
    this.handle = (req, res, next) => this.route(req as Carrier, res, next);
  }

  /** The admin API's address, once started with `admin` on. */
  get adminAddress(): string | undefined {
    const address = this.adminServer?.address() as AddressInfo | null | undefined;
    return address ? `http://${address.address}:${address.port}` : undefined;
  }

  /** Starts the flag provider, the health checks and (unless `admin: false`) the admin API. */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    await this.deps.flags.start();
    for (const cluster of this.clusters.values()) cluster.startHealthChecks();
    this.recentSplits.start();
    if (this.options.admin !== false) {
      const { admin } = this.options.config;
      const configState = { digest: configDigest(this.options.config), loadedAt: new Date().toISOString(), lastReload: null };
      const shadow = new ShadowRunner(this.options.config.shadow, () => undefined, this.logger);
      const source: AdminSource = {
        table: () => this.table,
        adminToken: () => admin.token,
        flags: this.deps.flags,
        registry: this.deps.registry,
        shadow,
        reload: async () => ({ ok: false, error: 'the express middleware does not reload: restart the app' }),
        recentSplits: this.recentSplits,
        inventory: this.inventory,
        configState: () => configState,
      };
      this.adminServer = http.createServer(createAdminHandler((request) => answerAdmin(source, request), () => admin.token));
      const server = this.adminServer;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(admin.port, admin.host, () => resolve());
      });
    }
  }

  /** Stops the admin API, health checks and flags. Requests in flight belong to your server's own shutdown. */
  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopped';
    this.recentSplits.stop();
    if (this.adminServer) {
      const server = this.adminServer;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await Promise.all([...this.clusters.values()].map((cluster) => cluster.close()));
    for (const agent of this.agents) agent.destroy();
    await this.deps.flags.stop();
  }

  private route(req: Carrier, res: http.ServerResponse, next: NextFunction): void {
    const table = this.table;
    const method = req.method ?? 'GET';
    const requestId = requestIdOf(req);
    const normalized = normalizePath(req.originalUrl ?? req.url ?? '/', table.pathPolicy);
    if (!normalized.ok) {
      respondWithError(res, badPathError(normalized.reason), requestId);
      table.unmatched.metrics.legacy.observe(method, 400, 0);
      return;
    }
    const route = table.match(method, normalized.path, req.headers);
    if (route.config === undefined && this.unmatchedToNext) {
      next();
      return;
    }
    let context: FlagContext | undefined;
    if (route.flag !== undefined) {
      const identity = table.identity.read(req.headers, route.useUserId, req.socket.remoteAddress);
      if (identity.newSession) res.appendHeader('set-cookie', table.identity.setCookieValue(identity.sessionId!));
      context = identity;
    }
    const decision = decide(route, table.unmatched.cluster, this.deps.flags, context ?? NO_CONTEXT, true);
    if (decision.fallback) this.metrics.fallbacks.labels(route.id, decision.fallback).inc();
    req[FORWARDING] = {
      route,
      method,
      path: normalized.forwardPath,
      target: decision.target,
      requestId,
      startedAt: performance.now(),
      attempts: 0,
      verdictPending: decision.target === 'extracted',
      timedOut: false,
      next,
    };
    req.headers['x-request-id'] = requestId;
    req.url = normalized.forwardPath;
    this.dispatch(req, res, decision.cluster.name);
  }

  private dispatch(req: Carrier, res: http.ServerResponse, cluster: string): void {
    const forwarding = forwardingOf(req);
    forwarding.attempts += 1;
    void this.forwarders.get(cluster)!(req, res, forwarding.next);
  }

  private canFallBack(req: Carrier, forwarding: Forwarding): boolean {
    return forwarding.target === 'extracted' && forwarding.route.fallbackOnSafe && SAFE_METHODS.has(forwarding.method) && !hasBody(req);
  }

  private fallBack(req: Carrier, res: http.ServerResponse, forwarding: Forwarding, reason: FallbackReason): void {
    this.metrics.fallbacks.labels(forwarding.route.id, reason).inc();
    this.logger.debug({ route: forwarding.route.id, requestId: forwarding.requestId, reason }, 'falling back to legacy');
    forwarding.target = 'legacy';
    this.dispatch(req, res, LEGACY);
  }

  private settleBreaker(forwarding: Forwarding, success: boolean): void {
    if (!forwarding.verdictPending) return;
    forwarding.verdictPending = false;
    const breaker = forwarding.route.cluster.breaker;
    if (success) breaker.onSuccess();
    else breaker.onFailure();
  }

  private onResponse(req: Carrier, upstream: http.IncomingMessage, res: http.ServerResponse): void {
    const forwarding = forwardingOf(req);
    const status = upstream.statusCode ?? 502;
    if (forwarding.target === 'extracted') {
      this.settleBreaker(forwarding, status < 500);
      if (status >= 500 && this.canFallBack(req, forwarding)) {
        upstream.resume();
        this.fallBack(req, res, forwarding, 'upstream_5xx');
        return;
      }
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(upstream.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    const cookies = res.getHeader('set-cookie');
    if (cookies !== undefined) headers['set-cookie'] = [...[cookies].flat().map(String), ...[headers['set-cookie'] ?? []].flat().map(String)];
    headers['x-request-id'] = forwarding.requestId;
    res.writeHead(status, headers);
    upstream.pipe(res);
    upstream.once('end', () => this.observe(forwarding, status));
  }

  private onError(req: Carrier, error: NodeJS.ErrnoException, res: http.ServerResponse, cluster: string): void {
    const forwarding = forwardingOf(req);
    if (res.headersSent) {
      res.destroy(error);
      return;
    }
    const timedOut = forwarding.timedOut || error.code === 'ETIMEDOUT';
    if (forwarding.target === 'extracted') {
      this.settleBreaker(forwarding, false);
      if (this.canFallBack(req, forwarding)) {
        this.fallBack(req, res, forwarding, timedOut ? 'timeout' : 'connect_error');
        return;
      }
    }
    const rejection = timedOut ? upstreamTimeoutError(cluster) : upstreamConnectError(cluster, error);
    respondWithError(res, rejection, forwarding.requestId);
    this.observe(forwarding, rejection.status);
  }

  private observe(forwarding: Forwarding, status: number): void {
    const { route, target } = forwarding;
    route.metrics[target].observe(forwarding.method, status, (performance.now() - forwarding.startedAt) / 1000);
    route.split[target] += 1;
    if (target === 'legacy') this.inventory.record(route.id, forwarding.method, forwarding.path);
  }
}

function forwardingOf(req: http.IncomingMessage): Forwarding {
  return (req as Carrier)[FORWARDING]!;
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}
