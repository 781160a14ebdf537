import fs from 'node:fs';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { answerAdmin, createAdminHandler, createProbeHandler, type AdminAnswer, type AdminRequest, type AdminSource } from './admin';
import type { ConfigState } from './admin-client';
import { ClusterRuntime } from './cluster';
import { ConsistencyTracker, type SharedWrite } from './consistency';
import { badPathError } from './errors';
import { closeNow, listen, listenerUrl } from './listen';
import type { FlagProvider } from './flags/provider';
import { Exchange, POOL_TRANSPORT, requestIdOf, respondWithError, type ForwardingCore } from './forward';
import { createProxyMetrics, type ProxyMetrics } from './metrics';
import { configDigest, loadProxyConfigFile, type ProxyConfig } from './options';
import { normalizePath } from './path';
import { RecentSplits } from './recent-split';
import { LegacyInventory } from './inventory';
import { gaugeSources, RouteCounters, RouteTable } from './route-table';
import { ShadowRunner } from './shadow';
import { forwardUpgrade, refuseUpgrade } from './upgrade';

export interface StranglerProxyOptions {
  config: ProxyConfig;
  /** When set, the file is watched (config `reload.watchFile`) and `reload()` / POST /reload re-read it. */
  configPath?: string;
  /** Environment for `${VAR}` interpolation on reload (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * false: no admin or probe listener and no file watch, for a worker whose primary serves those and hands it each
   * reloaded config (see `ProxyWorkers`). Default true.
   */
  serveAdmin?: boolean;
  /** Told of each write recorded for read-your-writes, for a worker to share with the others (`learnWrite`). */
  onWrite?: (write: SharedWrite) => void;
}

export interface StranglerProxyDeps {
  logger: Logger;
  registry: Registry;
  flags: FlagProvider;
}

export type ReloadResult = { ok: true } | { ok: false; error: string };

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';
const TOO_LARGE_HEADERS = 'HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';
const CONNECT_REFUSED = 'HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

/**
 * The routing proxy: one node:http server for traffic, one for the admin API. The route table is compiled once per
 * configuration and swapped atomically on reload; requests in flight finish on the table they started with.
 */
export class StranglerProxy {
  private config: ProxyConfig;
  private table: RouteTable;
  private clusters = new Map<string, ClusterRuntime>();
  private readonly counters = new RouteCounters(() => this.metrics);
  private readonly inventory: LegacyInventory;
  private readonly recentSplits = new RecentSplits(() => this.counters.splits.entries());
  private readonly metrics: ProxyMetrics;
  private readonly endpointEvents = { ejected: (cluster: string, endpoint: { url: string }) => this.metrics.endpointEjections.labels(cluster, endpoint.url).inc() };
  private readonly core: ForwardingCore;
  private readonly shadow: ShadowRunner;
  private readonly consistency: ConsistencyTracker;
  private readonly logger: Logger;
  private readonly server: http.Server;
  private readonly adminServer: http.Server | undefined;
  private readonly probeServer: http.Server | undefined;
  private readonly upgraded = new Set<Duplex>();
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  private watching = false;
  private configState: ConfigState;
  /** The admin API's answers without HTTP: what a worker gives its primary over IPC. */
  readonly answerAdmin: (request: AdminRequest) => Promise<AdminAnswer> | AdminAnswer;
  private readonly onConfigFileChange = (current: fs.Stats, previous: fs.Stats) => {
    if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size) void this.reload();
  };

  constructor(
    private readonly options: StranglerProxyOptions,
    private readonly deps: StranglerProxyDeps,
  ) {
    this.logger = deps.logger.child({ component: 'strangler-proxy' });
    this.config = options.config;
    this.metrics = createProxyMetrics(deps.registry, gaugeSources(deps.flags, () => this.clusters.values(), () => this.table));
    this.shadow = new ShadowRunner(
      this.config.shadow,
      (route, result) => this.metrics.shadowComparisons.labels(route, result).inc(),
      this.logger.child({ component: 'shadow' }),
    );
    this.consistency = new ConsistencyTracker(
      this.config.consistency,
      () => this.metrics,
      (cluster, message) => this.logger.warn({ cluster }, message),
      options.onWrite,
    );
    this.inventory = new LegacyInventory(deps.registry);
    this.core = { flags: deps.flags, metrics: this.metrics, inventory: this.inventory, shadow: this.shadow, consistency: this.consistency, logger: this.logger, transport: POOL_TRANSPORT };
    this.table = this.compile(this.config);
    this.configState = { digest: configDigest(this.config), loadedAt: new Date().toISOString(), lastReload: null };
    this.server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.handle(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return socket.destroy();
      socket.end(error.code === 'HPE_HEADER_OVERFLOW' ? TOO_LARGE_HEADERS : BAD_REQUEST);
    });
    // A CONNECT is no request for an application behind the proxy: answer it rather than drop the socket.
    this.server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => socket.end(CONNECT_REFUSED));
    const adminSource: AdminSource = {
      table: () => this.table,
      adminToken: () => this.config.admin.token,
      flags: deps.flags,
      registry: deps.registry,
      shadow: this.shadow,
      reload: () => this.reload(),
      recentSplits: this.recentSplits,
      inventory: this.inventory,
      configState: () => this.configState,
    };
    this.answerAdmin = (request) => answerAdmin(adminSource, request);
    if (options.serveAdmin === false) return;
    this.adminServer = http.createServer(createAdminHandler(this.answerAdmin, () => this.config.admin.token));
    if (this.config.probes) {
      this.probeServer = http.createServer(createProbeHandler(this.answerAdmin, () => this.config.probes?.metrics === true));
    }
  }

  /** Where each listener is bound; `admin` unless `serveAdmin: false`, `probes` only when the config has a `probes` listener. */
  get address(): { proxy: string; admin?: string; probes?: string } {
    return {
      proxy: listenerUrl(this.server),
      ...(this.adminServer ? { admin: listenerUrl(this.adminServer) } : {}),
      ...(this.probeServer ? { probes: listenerUrl(this.probeServer) } : {}),
    };
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'starting';
    await this.deps.flags.start();
    for (const cluster of this.clusters.values()) cluster.startHealthChecks();
    await listen(this.server, this.config.proxy.host, this.config.proxy.port);
    if (this.adminServer) await listen(this.adminServer, this.config.admin.host, this.config.admin.port);
    if (this.probeServer) await listen(this.probeServer, this.config.probes!.host, this.config.probes!.port);
    if (this.options.configPath && this.config.reload.watchFile && this.options.serveAdmin !== false) {
      fs.watchFile(this.options.configPath, { interval: this.config.reload.pollIntervalMs, persistent: false }, this.onConfigFileChange);
      this.watching = true;
    }
    this.recentSplits.start();
    this.state = 'running';
    this.logger.info({ ...this.address, routes: this.table.routes.length }, 'strangler proxy listening');
  }

  /** Stops accepting, lets requests in flight finish (bounded by the longest response timeout), then closes everything. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.state = 'stopping';
    this.recentSplits.stop();
    if (this.watching) fs.unwatchFile(this.options.configPath!, this.onConfigFileChange);
    const closed = (server: http.Server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    const proxyClosed = closed(this.server);
    this.server.closeIdleConnections();
    for (const socket of this.upgraded) socket.destroy();
    const graceMs = Math.max(...[...this.clusters.values()].map((cluster) => cluster.config.responseTimeoutMs)) + 1_000;
    const force = setTimeout(() => this.server.closeAllConnections(), graceMs);
    force.unref();
    const idleSweep = setInterval(() => this.server.closeIdleConnections(), 100);
    idleSweep.unref();
    await proxyClosed;
    clearTimeout(force);
    clearInterval(idleSweep);
    await closeNow(this.adminServer);
    await closeNow(this.probeServer);
    await this.shadow.stop();
    await Promise.all([...this.clusters.values()].map((cluster) => cluster.close()));
    await this.deps.flags.stop();
    this.state = 'stopped';
    this.logger.info('strangler proxy stopped');
  }

  /**
   * Re-reads the config file, or applies `config` (already validated, as a primary hands it to its workers); a bad
   * file keeps the current table, logs why and sets strangler_proxy_config_reload_failed.
   */
  async reload(config?: ProxyConfig): Promise<ReloadResult> {
    if (!config && !this.options.configPath) return { ok: false, error: 'the proxy was started without a config file' };
    try {
      this.apply(config ?? loadProxyConfigFile(this.options.configPath!, this.options.env));
      const at = new Date().toISOString();
      this.configState = { digest: configDigest(this.config), loadedAt: at, lastReload: { ok: true, at } };
      this.metrics.configReloads.labels('success').inc();
      this.metrics.configReloadFailed.set(0);
      this.logger.info({ routes: this.table.routes.length }, 'configuration reloaded');
      return { ok: true };
    } catch (error) {
      this.configState = { ...this.configState, lastReload: { ok: false, at: new Date().toISOString(), error: (error as Error).message } };
      this.metrics.configReloads.labels('failure').inc();
      this.metrics.configReloadFailed.set(1);
      this.logger.error({ err: error }, 'configuration reload failed; keeping the previous route table');
      return { ok: false, error: (error as Error).message };
    }
  }

  /** Remembers a write another worker recorded for read-your-writes (see `onWrite`). */
  learnWrite(write: SharedWrite): void {
    this.consistency.learn(write);
  }

  private apply(config: ProxyConfig): void {
    const previous = this.config;
    for (const key of ['proxy', 'admin', 'flags', 'probes'] as const) {
      const fixed = key === 'admin' ? { host: previous.admin.host, port: previous.admin.port } : previous[key];
      const next = key === 'admin' ? { host: config.admin.host, port: config.admin.port } : config[key];
      if (JSON.stringify(fixed) !== JSON.stringify(next)) this.logger.warn({ key }, `'${key}' settings change only on restart; ignoring the new values`);
    }
    const retired = this.clusters;
    const table = this.compile(config);
    this.config = { ...config, proxy: previous.proxy, admin: { ...previous.admin, token: config.admin.token }, flags: previous.flags, probes: previous.probes };
    this.table = table;
    this.shadow.configure(config.shadow);
    this.consistency.configure(config.consistency);
    for (const cluster of retired.values()) if (this.clusters.get(cluster.name) !== cluster) cluster.retire();
  }

  /** Builds the table for `config`, reusing cluster runtimes (and their pools) whose settings did not change. */
  private compile(config: ProxyConfig): RouteTable {
    const clusters = new Map<string, ClusterRuntime>();
    for (const [name, clusterConfig] of Object.entries(config.clusters)) {
      const existing = this.clusters.get(name);
      clusters.set(
        name,
        existing && existing.signature === JSON.stringify(clusterConfig) ? existing : new ClusterRuntime(name, clusterConfig, this.logger, this.endpointEvents),
      );
    }
    const table = new RouteTable(config, clusters, this.counters);
    this.clusters = clusters;
    if (this.state === 'starting' || this.state === 'running') for (const cluster of clusters.values()) cluster.startHealthChecks();
    return table;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const table = this.table;
    const requestId = requestIdOf(req);
    const normalized = normalizePath(req.url ?? '/', table.pathPolicy);
    if (!normalized.ok) {
      respondWithError(res, badPathError(normalized.reason), requestId);
      table.unmatched.metrics.legacy.observe(req.method ?? 'GET', 400, 0);
      return;
    }
    const route = table.match(req.method ?? 'GET', normalized.path, req.headers);
    new Exchange(this.core, table, route, req, res, normalized.forwardPath, requestId).run();
  }

  private handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const table = this.table;
    const requestId = requestIdOf(req);
    const normalized = normalizePath(req.url ?? '/', table.pathPolicy);
    if (!normalized.ok || this.state !== 'running') {
      refuseUpgrade(socket, normalized.ok ? 503 : 400, requestId);
      return;
    }
    forwardUpgrade(this.core, table, normalized, req, socket, head, requestId, (upgraded) => {
      this.upgraded.add(upgraded);
      upgraded.once('close', () => this.upgraded.delete(upgraded));
    });
  }
}

