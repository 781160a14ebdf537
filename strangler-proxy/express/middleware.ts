import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { answerAdmin, createAdminHandler, type AdminSource } from '../admin';
import { ClusterRuntime } from '../cluster';
import { ConsistencyTracker } from '../consistency';
import { badPathError, ProxyError } from '../errors';
import type { FlagProvider } from '../flags/provider';
import { Exchange, requestIdOf, respondWithError, type ForwardingCore } from '../forward';
import { LegacyInventory } from '../inventory';
import { createProxyMetrics, type ProxyMetrics } from '../metrics';
import { configDigest, type ProxyConfig } from '../options';
import { normalizePath } from '../path';
import { RecentSplits } from '../recent-split';
import { gaugeSources, RouteCounters, RouteTable } from '../route-table';
import { ShadowRunner } from '../shadow';
import { HttpProxyMiddlewareTransport } from './hpm-transport';

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

type ExpressRequest = http.IncomingMessage & { originalUrl?: string };

/**
 * The strangler proxy's routing inside an existing express (or connect) app. Each request runs the standalone
 * proxy's own exchange (decision, sticky rollouts, read-your-writes, body limit, fallback, circuit breakers, retry
 * after a dropped connection, shadow traffic, the `strangler_proxy_*` series and the legacy inventory), with
 * http-proxy-middleware as its transport. Mount `handle` before any body parser: the request body is streamed to the
 * upstream. WebSockets and hot reload are the standalone proxy's.
 */
export class StranglerMiddleware {
  readonly handle: Middleware;
  private readonly table: RouteTable;
  private readonly clusters = new Map<string, ClusterRuntime>();
  private readonly transport: HttpProxyMiddlewareTransport;
  private readonly counters = new RouteCounters(() => this.metrics);
  private readonly inventory: LegacyInventory;
  private readonly recentSplits = new RecentSplits(() => this.counters.splits.entries());
  private readonly metrics: ProxyMetrics;
  private readonly shadow: ShadowRunner;
  private readonly core: ForwardingCore;
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
    const endpointEvents = { ejected: (cluster: string, endpoint: { url: string }) => this.metrics.endpointEjections.labels(cluster, endpoint.url).inc() };
    for (const [name, clusterConfig] of Object.entries(config.clusters)) this.clusters.set(name, new ClusterRuntime(name, clusterConfig, this.logger, endpointEvents));
    this.transport = new HttpProxyMiddlewareTransport(Object.values(config.clusters));
    this.shadow = new ShadowRunner(config.shadow, (route, result) => this.metrics.shadowComparisons.labels(route, result).inc(), this.logger.child({ component: 'shadow' }));
    const consistency = new ConsistencyTracker(config.consistency, () => this.metrics, (cluster, message) => this.logger.warn({ cluster }, message));
    this.core = { flags: deps.flags, metrics: this.metrics, inventory: this.inventory, shadow: this.shadow, consistency, logger: this.logger, transport: this.transport };
    this.table = new RouteTable(config, this.clusters, this.counters);
    this.handle = (req, res, next) => this.route(req, res, next);
  }

  /** The admin API's address, once started with `admin` on. */
  get adminAddress(): string | undefined {
    const address = this.adminServer?.address() as AddressInfo | null | undefined;
    return address ? `http://${address.address}:${address.port}` : undefined;
  }

  /** Starts the flag provider, the health checks and (unless `admin: false`) the admin API. */
  async start(): Promise<void> {
    if (this.state === 'stopped') throw new ProxyError('SFG_PROXY_STOPPED', 'this StranglerMiddleware was stopped: create a new one');
    if (this.state !== 'new') return;
    this.state = 'running';
    await this.deps.flags.start();
    for (const cluster of this.clusters.values()) cluster.startHealthChecks();
    this.recentSplits.start();
    if (this.options.admin !== false) {
      const { admin } = this.options.config;
      const configState = { digest: configDigest(this.options.config), loadedAt: new Date().toISOString(), lastReload: null };
      const source: AdminSource = {
        table: () => this.table,
        adminToken: () => admin.token,
        flags: this.deps.flags,
        registry: this.deps.registry,
        shadow: this.shadow,
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

  /** Stops the admin API, shadow copies, health checks and flags. Requests in flight belong to your server's own shutdown. */
  async stop(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    this.recentSplits.stop();
    if (this.adminServer) {
      const server = this.adminServer;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.shadow.stop();
    await Promise.all([...this.clusters.values()].map((cluster) => cluster.close()));
    this.transport.close();
    await this.deps.flags.stop();
  }

  private route(req: ExpressRequest, res: http.ServerResponse, next: NextFunction): void {
    const table = this.table;
    const requestId = requestIdOf(req);
    const normalized = normalizePath(req.originalUrl ?? req.url ?? '/', table.pathPolicy);
    if (!normalized.ok) {
      respondWithError(res, badPathError(normalized.reason), requestId);
      table.unmatched.metrics.legacy.observe(req.method ?? 'GET', 400, 0);
      return;
    }
    const route = table.match(req.method ?? 'GET', normalized.path, req.headers);
    if (route.config === undefined && this.unmatchedToNext) {
      next();
      return;
    }
    new Exchange(this.core, table, route, req, res, normalized.forwardPath, requestId).run();
  }
}
