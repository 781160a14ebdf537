import cluster, { type Worker } from 'node:cluster';
import fs from 'node:fs';
import http from 'node:http';
import type { Logger } from 'pino';
import { AggregatorRegistry, Counter, Gauge, type Registry } from 'prom-client';
import { createAdminHandler, createProbeHandler, type AdminAnswer, type AdminRequest, type ReadinessView } from '../admin';
import type { ConfigState, RoutesView } from '../admin-client';
import { ProxyError } from '../errors';
import { closeNow, listen, listenerUrl } from '../listen';
import type { InventoryEntry } from '../inventory';
import { configDigest, loadProxyConfigFile, workerCount, type ProxyConfig } from '../options';
import type { ReloadResult } from '../proxy';
import { mergeInventories, mergeRoutesViews } from '../replicas';
import type { ShadowMismatch } from '../shadow';
import { mergeMismatches, mergeReadiness } from './merge';
import { isMessage, type FromWorker, type ToWorker } from './messages';

export interface ProxyWorkersOptions {
  config: ProxyConfig;
  /** Re-read on `reload()`, POST /reload and (config `reload.watchFile`) when it changes. */
  configPath?: string;
  /** Environment for `${VAR}` interpolation on reload (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Worker processes (default: what `proxy.workers` asks for). */
  count?: number;
  /** The script each worker runs, which calls `runProxyWorker` (default: this process's own, as node:cluster does). */
  exec?: string;
  args?: string[];
  /** How long a worker may take to answer an admin, metrics or reload request (default 10 s). */
  answerTimeoutMs?: number;
  /** How long a worker may take to start serving (default 60 s). */
  startTimeoutMs?: number;
}

export interface ProxyWorkersDeps {
  logger: Logger;
  /** The primary's own metrics (worker count and restarts, reloads, its process metrics), merged into /metrics. */
  registry: Registry;
}

/** One worker per slot; a slot's worker is replaced when it dies. */
interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  address?: string;
  forkedAt: number;
  /** Exits in a row shortly after starting: the restart back-off. */
  quickExits: number;
  started: { resolve: () => void; reject: (error: Error) => void };
}

interface Pending {
  slot: Slot;
  resolve: (answer: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface Gathered<T> {
  slot: Slot;
  answer?: T;
  error?: string;
}

/** Each worker as GET /routes lists it under `workers`. */
export interface WorkerState {
  worker: number;
  pid: number | undefined;
  error?: string;
  flagsReady?: boolean;
  config?: ConfigState;
  /** Requests this worker answered since it started: how evenly the primary spreads connections (round robin). */
  requests?: number;
}

/** A worker that ran for less than this before it exited is restarted after a growing delay. */
const QUICK_EXIT_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Worker mode (`proxy.workers`): N node:cluster workers share the traffic port, each a `StranglerProxy` without
 * admin listeners; this primary serves the admin and probe listeners and answers them for all workers at once —
 * route splits and inventories added up, readiness only when every worker is ready, metrics merged by prom-client's
 * AggregatorRegistry. A reload is validated here once and handed to every worker; a worker that dies is replaced.
 * Writes recorded for read-your-writes are passed on to every other worker.
 */
export class ProxyWorkers {
  private config: ProxyConfig;
  private readonly count: number;
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private nextId = 1;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  private configState: ConfigState;
  private readonly logger: Logger;
  private readonly adminServer: http.Server;
  private readonly probeServer: http.Server | undefined;
  private readonly metrics: { restarts: Counter; reloads: Counter<'result'>; reloadFailed: Gauge };
  private watching = false;
  private readonly onConfigFileChange = (current: fs.Stats, previous: fs.Stats) => {
    if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size) void this.reload();
  };
  /** The admin API's answers for all workers together. */
  readonly answerAdmin: (request: AdminRequest) => Promise<AdminAnswer>;

  constructor(
    private readonly options: ProxyWorkersOptions,
    private readonly deps: ProxyWorkersDeps,
  ) {
    if (!cluster.isPrimary) throw new Error('ProxyWorkers runs in the primary process; its workers call runProxyWorker');
    this.config = options.config;
    this.count = options.count ?? workerCount(options.config.proxy.workers);
    this.logger = deps.logger.child({ component: 'strangler-proxy-workers' });
    this.configState = { digest: configDigest(this.config), loadedAt: new Date().toISOString(), lastReload: null };
    const registers = [deps.registry];
    const slots = this.slots;
    new Gauge({
      name: 'strangler_proxy_workers',
      help: 'Worker processes serving traffic (worker mode)',
      registers,
      aggregator: 'first',
      collect() {
        this.set(slots.filter((slot) => slot.ready).length);
      },
    });
    this.metrics = {
      restarts: new Counter({ name: 'strangler_proxy_worker_restarts_total', help: 'Workers replaced after they died (worker mode)', registers, aggregator: 'first' }),
      reloads: new Counter({ name: 'strangler_proxy_config_reloads_total', help: 'Configuration reload attempts by result', labelNames: ['result'], registers, aggregator: 'max' }),
      reloadFailed: new Gauge({ name: 'strangler_proxy_config_reload_failed', help: '1 while the last reload attempt failed (the previous route table stays in force)', registers, aggregator: 'max' }),
    };
    this.answerAdmin = (request) => this.answer(request);
    this.adminServer = http.createServer(createAdminHandler(this.answerAdmin, () => this.config.admin.token));
    if (this.config.probes) this.probeServer = http.createServer(createProbeHandler(this.answerAdmin, () => this.config.probes?.metrics === true));
  }

  /** Where the listeners are bound: the traffic port the workers share, the admin and (when configured) probe listeners. */
  get address(): { proxy: string; admin: string; probes?: string } {
    const proxy = this.slots.find((slot) => slot.address)?.address;
    if (!proxy) throw new Error('no proxy worker is listening');
    return { proxy, admin: listenerUrl(this.adminServer), ...(this.probeServer ? { probes: listenerUrl(this.probeServer) } : {}) };
  }

  /** Worker processes (each worker's pid, undefined while it is replaced). */
  get pids(): Array<number | undefined> {
    return this.slots.map((slot) => (slot.ready ? slot.worker.process.pid : undefined));
  }

  /** Forks the workers, waits until each serves traffic, then opens the admin and probe listeners. */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'starting';
    if (this.options.exec) cluster.setupPrimary({ exec: this.options.exec, args: this.options.args ?? [] });
    const timeoutMs = this.options.startTimeoutMs ?? 60_000;
    try {
      await Promise.all(
        Array.from({ length: this.count }, (_, index) =>
          withTimeout(this.fork(index, 0), timeoutMs, () => `worker ${index} did not start within ${timeoutMs} ms`),
        ),
      );
    } catch (error) {
      await this.stop();
      throw new ProxyError('SFG_PROXY_WORKER_FAILED', `the proxy workers did not start: ${(error as Error).message}`, { cause: error });
    }
    await listen(this.adminServer, this.config.admin.host, this.config.admin.port);
    if (this.probeServer) await listen(this.probeServer, this.config.probes!.host, this.config.probes!.port);
    if (this.options.configPath && this.config.reload.watchFile) {
      fs.watchFile(this.options.configPath, { interval: this.config.reload.pollIntervalMs, persistent: false }, this.onConfigFileChange);
      this.watching = true;
    }
    this.state = 'running';
    this.logger.info({ ...this.address, workers: this.count }, 'strangler proxy workers listening');
  }

  /** Tells every worker to stop (each finishes its requests in flight), waits for them, then closes the admin listeners. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.state = 'stopping';
    if (this.watching) fs.unwatchFile(this.options.configPath!, this.onConfigFileChange);
    for (const timer of this.restartTimers) clearTimeout(timer);
    const graceMs = Math.max(...Object.values(this.config.clusters).map((config) => config.responseTimeoutMs)) + 5_000;
    await Promise.all(
      this.slots.map(
        ({ worker }) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const force = setTimeout(() => worker.process.kill('SIGKILL'), graceMs);
            worker.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            if (worker.isConnected()) worker.send({ sfg: 'stop' } satisfies ToWorker);
            else worker.process.kill('SIGTERM');
          }),
      ),
    );
    await closeNow(this.adminServer);
    await closeNow(this.probeServer);
    this.state = 'stopped';
    this.logger.info('strangler proxy workers stopped');
  }

  /**
   * Re-reads the config file and, when it is valid, hands it to every worker: ok only when each applied it. A bad
   * file changes nothing; a worker started later gets the last good config.
   */
  async reload(): Promise<ReloadResult> {
    if (!this.options.configPath) return { ok: false, error: 'the proxy was started without a config file' };
    let config: ProxyConfig;
    try {
      config = loadProxyConfigFile(this.options.configPath, this.options.env);
    } catch (error) {
      return this.reloaded({ ok: false, error: (error as Error).message });
    }
    const previous = this.config;
    this.config = { ...config, proxy: previous.proxy, admin: { ...previous.admin, token: config.admin.token }, flags: previous.flags, probes: previous.probes };
    const results = await this.gather<ReloadResult>((id) => ({ sfg: 'reload', id, config }));
    const failures = results.flatMap(({ slot, answer, error }) =>
      answer?.ok ? [] : [`worker ${slot.index}: ${error ?? (answer as { error: string } | undefined)?.error ?? 'no answer'}`],
    );
    return this.reloaded(failures.length === 0 ? { ok: true } : { ok: false, error: failures.join('; ') });
  }

  private reloaded(result: ReloadResult): ReloadResult {
    const at = new Date().toISOString();
    if (result.ok) {
      this.configState = { digest: configDigest(this.config), loadedAt: at, lastReload: { ok: true, at } };
      this.logger.info({ routes: this.config.routes.length, workers: this.count }, 'configuration reloaded in every worker');
    } else {
      this.configState = { ...this.configState, lastReload: { ok: false, at, error: result.error } };
      this.logger.error({ error: result.error }, 'configuration reload failed');
    }
    this.metrics.reloads.labels(result.ok ? 'success' : 'failure').inc();
    this.metrics.reloadFailed.set(result.ok ? 0 : 1);
    return result;
  }

  private fork(index: number, quickExits: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = cluster.fork();
      const slot: Slot = { index, worker, ready: false, forkedAt: Date.now(), quickExits, started: { resolve, reject } };
      this.slots[index] = slot;
      worker.on('message', (message: unknown) => this.onMessage(slot, message));
      worker.on('exit', (code, signal) => this.onExit(slot, code, signal));
    });
  }

  private onMessage(slot: Slot, message: unknown): void {
    if (!isMessage<FromWorker>(message)) return;
    switch (message.sfg) {
      case 'hello':
        return void slot.worker.send({ sfg: 'start', index: slot.index, config: this.config } satisfies ToWorker);
      case 'ready':
        slot.ready = true;
        slot.address = message.address;
        return slot.started.resolve();
      case 'start-failed':
        return slot.started.reject(new Error(message.error));
      case 'answer':
      case 'failed': {
        const pending = this.pending.get(message.id);
        if (!pending) return;
        this.pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.sfg === 'answer') pending.resolve(message.answer);
        else pending.reject(new Error(message.error));
        return;
      }
      case 'write':
        for (const other of this.slots) {
          if (other !== slot && other.ready && other.worker.isConnected()) other.worker.send({ sfg: 'write', write: message.write } satisfies ToWorker);
        }
        return;
    }
  }

  private onExit(slot: Slot, code: number | null, signal: string | null): void {
    slot.ready = false;
    slot.started.reject(new Error(`worker ${slot.index} exited (${signal ?? `code ${code}`}) before it served traffic`));
    for (const [id, pending] of this.pending) {
      if (pending.slot !== slot) continue;
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(new Error('the worker exited'));
    }
    if (this.state !== 'running' || this.slots[slot.index] !== slot) return;
    const quick = Date.now() - slot.forkedAt < QUICK_EXIT_MS;
    const quickExits = quick ? slot.quickExits + 1 : 0;
    const delayMs = quick ? Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** (quickExits - 1)) : 0;
    this.metrics.restarts.inc();
    this.logger.error({ worker: slot.index, pid: slot.worker.process.pid, code, signal, restartInMs: delayMs }, 'proxy worker died; replacing it');
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.state !== 'running') return;
      this.fork(slot.index, quickExits).catch((error: Error) => this.logger.error({ worker: slot.index, err: error }, 'replacement worker did not start'));
    }, delayMs);
    this.restartTimers.add(timer);
  }

  /** Asks every worker that serves traffic; a worker that fails or does not answer in time has `error` instead. */
  private gather<T>(message: (id: number) => ToWorker): Promise<Array<Gathered<T>>> {
    const timeoutMs = this.options.answerTimeoutMs ?? 10_000;
    return Promise.all(
      this.slots
        .filter((slot) => slot.ready)
        .map(
          (slot) =>
            new Promise<Gathered<T>>((resolve) => {
              const id = this.nextId++;
              const timer = setTimeout(() => {
                this.pending.delete(id);
                resolve({ slot, error: `did not answer within ${timeoutMs} ms` });
              }, timeoutMs);
              this.pending.set(id, {
                slot,
                timer,
                resolve: (answer) => resolve({ slot, answer: answer as T }),
                reject: (error) => resolve({ slot, error: error.message }),
              });
              slot.worker.send(message(id));
            }),
        ),
    );
  }

  /** The admin request answered by every worker, their 200 answers' bodies; none at all is an error to the caller. */
  private async askAll<T>(request: AdminRequest): Promise<{ bodies: T[]; results: Array<Gathered<AdminAnswer>> }> {
    const results = await this.gather<AdminAnswer>((id) => ({ sfg: 'admin', id, request }));
    return { bodies: results.flatMap(({ answer }) => (answer && answer.status < 300 ? [answer.body as T] : [])), results };
  }

  private async answer(request: AdminRequest): Promise<AdminAnswer> {
    const endpoint = `${request.method} ${request.path}`;
    const known = ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /routes', 'GET /explain', 'GET /inventory', 'GET /shadow/mismatches', 'POST /reload'];
    if (!known.includes(endpoint)) return { status: 404, body: { error: `no admin endpoint ${endpoint}` } };
    const serving = this.slots.filter((slot) => slot.ready).length;
    if (endpoint === 'GET /healthz') return { status: 200, body: { status: 'ok', workers: { expected: this.count, serving } } };
    if (endpoint === 'POST /reload') return this.reload().then((result) => ({ status: result.ok ? 200 : 422, body: result }));
    if (endpoint === 'GET /metrics') return { status: 200, text: await this.metricsText(), contentType: this.deps.registry.contentType };
    if (endpoint === 'GET /readyz') {
      // A 503 from a worker still carries its readiness.
      const results = await this.gather<AdminAnswer>((id) => ({ sfg: 'admin', id, request }));
      const merged = mergeReadiness(results.flatMap(({ answer }) => (answer ? [answer.body as ReadinessView] : [])), this.count);
      return { status: merged.ready ? 200 : 503, body: merged };
    }
    if (serving === 0) return { status: 503, body: { error: 'no proxy worker is serving: they are being replaced' } };
    if (endpoint === 'GET /explain') {
      const [first] = await this.gather<AdminAnswer>((id) => ({ sfg: 'admin', id, request }));
      return first!.answer ?? { status: 503, body: { error: `worker ${first!.slot.index} ${first!.error}` } };
    }
    const { bodies, results } = await this.askAll<unknown>(request);
    if (bodies.length === 0) return { status: 503, body: { error: `no worker answered: ${results.map(({ slot, error }) => `worker ${slot.index} ${error ?? 'failed'}`).join('; ')}` } };
    switch (endpoint) {
      case 'GET /routes': {
        const views = bodies as RoutesView[];
        const workers = results.map(({ slot, answer, error }): WorkerState => {
          const view = answer?.body as RoutesView | undefined;
          return view
            ? { worker: slot.index, pid: slot.worker.process.pid, flagsReady: view.flagsReady, config: view.config, requests: answeredBy(view) }
            : { worker: slot.index, pid: slot.worker.process.pid, error: error ?? `answered ${answer?.status}` };
        });
        return { status: 200, body: { ...mergeRoutesViews(views), config: this.configState, workers } };
      }
      case 'GET /inventory':
        return { status: 200, body: { endpoints: mergeInventories((bodies as Array<{ endpoints: InventoryEntry[] }>).map((body) => body.endpoints)) } };
      default:
        return { status: 200, body: { mismatches: mergeMismatches((bodies as Array<{ mismatches: ShadowMismatch[] }>).map((body) => body.mismatches)) } };
    }
  }

  /** This process's metrics and every worker's, merged by each metric's aggregator (sum unless it says otherwise). */
  private async metricsText(): Promise<string> {
    const own = await this.deps.registry.getMetricsAsJSON();
    const results = await this.gather<typeof own>((id) => ({ sfg: 'metrics', id }));
    const merged = AggregatorRegistry.aggregate([own, ...results.flatMap(({ answer }) => (answer ? [answer] : []))]);
    return merged.metrics();
  }
}

function answeredBy(view: RoutesView): number {
  return [...view.routes.map((route) => route.split), view.unmatched.split].reduce((sum, split) => sum + split.legacy + split.extracted, 0);
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message())), ms)))]).finally(() => clearTimeout(timer));
}
