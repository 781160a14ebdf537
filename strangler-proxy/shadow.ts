import fs from 'node:fs';
import http from 'node:http';
import type { Logger } from 'pino';
import type { ClusterRuntime, UpstreamEndpoint } from './cluster';
import { compareResponses, versionsDiffer, type CompareRules, type ComparedSide } from './diff';
import type { ShadowResult, Target } from './metrics';
import { SAFE_METHODS } from './options';

export interface ShadowJob {
  route: string;
  method: string;
  path: string;
  headers: http.OutgoingHttpHeaders;
  body: Buffer | undefined;
  requestId: string;
  timeoutMs: number;
  maxBodyBytes: number;
  rules: CompareRules;
  primary: { target: Target; status: number; body: Buffer; cluster: ClusterRuntime };
  shadow: { target: Target; cluster: ClusterRuntime };
}

export interface ShadowMismatch {
  at: string;
  route: string;
  method: string;
  path: string;
  requestId: string;
  differences: string[];
  primary: { target: Target; status: number; body: string };
  shadow: { target: Target; status: number; body: string };
}

export interface ShadowRunnerOptions {
  queueSize: number;
  concurrency: number;
  keepMismatches: number;
  mismatchLog?: { path: string; maxBytes: number };
}

/**
 * Real mismatches as JSON lines in a file that survives restarts, bounded: past `maxBytes` it becomes `<path>.1`
 * (replacing the previous one) and a new file starts. Appends are queued one after another, off the request path.
 */
export class MismatchLog {
  private size: number;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly logger: Logger,
  ) {
    this.size = fs.existsSync(path) ? fs.statSync(path).size : 0;
  }

  append(mismatch: ShadowMismatch): Promise<void> {
    const line = `${JSON.stringify(mismatch)}\n`;
    this.writing = this.writing.then(async () => {
      try {
        if (this.size > 0 && this.size + Buffer.byteLength(line) > this.maxBytes) {
          await fs.promises.rename(this.path, `${this.path}.1`);
          this.size = 0;
        }
        await fs.promises.appendFile(this.path, line);
        this.size += Buffer.byteLength(line);
      } catch (error) {
        this.logger.warn({ err: error, path: this.path }, 'could not write the shadow mismatch log');
      }
    });
    return this.writing;
  }

  flushed(): Promise<void> {
    return this.writing;
  }
}

/**
 * Sends copies of answered requests to the other side and compares. A bounded queue drained by a fixed number of
 * workers: when it is full the copy is dropped (counted), so shadowing never slows or blocks the client. Copies use
 * their own small keep-alive pool per cluster and never touch the cluster's breaker.
 */
export class ShadowRunner {
  private readonly queue: ShadowJob[] = [];
  private active = 0;
  private readonly mismatches: ShadowMismatch[] = [];
  private readonly agents = new Map<UpstreamEndpoint, http.Agent>();
  private readonly idleWaiters: Array<() => void> = [];
  /** Comparisons waiting for their lag recheck (not holding a worker); bounded by queueSize. */
  private rechecking = 0;
  private mismatchLog: MismatchLog | undefined;
  private stopped = false;

  constructor(
    private options: ShadowRunnerOptions,
    private readonly record: (route: string, result: ShadowResult) => void,
    private readonly logger: Logger,
  ) {
    this.configure(options);
  }

  configure(options: ShadowRunnerOptions): void {
    this.options = options;
    this.mismatches.splice(0, Math.max(0, this.mismatches.length - options.keepMismatches));
    const log = options.mismatchLog;
    if (!log) this.mismatchLog = undefined;
    else if (this.mismatchLog?.path !== log.path) this.mismatchLog = new MismatchLog(log.path, log.maxBytes, this.logger);
  }

  enqueue(job: ShadowJob): void {
    if (this.stopped || this.queue.length >= this.options.queueSize) {
      this.record(job.route, 'dropped');
      return;
    }
    this.queue.push(job);
    this.pump();
  }

  /** Newest first. */
  recentMismatches(): ShadowMismatch[] {
    return [...this.mismatches].reverse();
  }

  /** Stops accepting copies and waits for queued ones to finish (each bounded by its timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.active > 0 || this.queue.length > 0 || this.rechecking > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.mismatchLog?.flushed();
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private pump(): void {
    while (this.active < this.options.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.active += 1;
      this.run(job)
        .catch((error: unknown) => this.logger.debug({ err: error, route: job.route }, 'shadow comparison failed'))
        .finally(() => {
          this.active -= 1;
          this.pump();
          this.notifyIdle();
        });
    }
  }

  private notifyIdle(): void {
    if (this.active === 0 && this.queue.length === 0 && this.rechecking === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private agentFor(endpoint: UpstreamEndpoint): http.Agent {
    let agent = this.agents.get(endpoint);
    if (!agent) {
      agent = new endpoint.transport.Agent({ keepAlive: true, maxSockets: this.options.concurrency });
      this.agents.set(endpoint, agent);
    }
    return agent;
  }

  private async run(job: ShadowJob): Promise<void> {
    let response: { status: number; body: Buffer } | 'too-large';
    try {
      response = await this.send(job);
    } catch (error) {
      this.logger.debug({ err: error, route: job.route, requestId: job.requestId }, 'shadow request failed');
      this.record(job.route, 'error');
      return;
    }
    if (response === 'too-large') {
      this.record(job.route, 'dropped');
      return;
    }
    const { match, differences } = compareResponses(job.primary, response, job.rules);
    if (match) return this.record(job.route, 'match');
    if (versionsDiffer(job.primary.body, response.body, job.rules)) return this.record(job.route, 'lag');
    if (job.rules.recheckMs > 0 && SAFE_METHODS.has(job.method)) {
      if (this.rechecking >= this.options.queueSize) return this.record(job.route, 'dropped');
      this.rechecking += 1;
      const timer = setTimeout(() => {
        this.recheck(job)
          .then((caughtUp) => (caughtUp ? this.record(job.route, 'lag') : this.recordMismatch(job, response, differences)))
          .catch((error: unknown) => {
            this.logger.debug({ err: error, route: job.route }, 'shadow recheck failed');
            this.recordMismatch(job, response, differences);
          })
          .finally(() => {
            this.rechecking -= 1;
            this.notifyIdle();
          });
      }, job.rules.recheckMs);
      timer.unref();
      return;
    }
    this.recordMismatch(job, response, differences);
  }

  /**
   * Both sides asked again after the lag had time to pass: when the shadow side now answers what the primary
   * answered, or what the primary answers now, the difference was lag.
   */
  private async recheck(job: ShadowJob): Promise<boolean> {
    const shadow = await this.send(job);
    if (shadow === 'too-large') return false;
    if (compareResponses(job.primary, shadow, job.rules).match) return true;
    // The primary side may have moved on meanwhile too: compare with what it answers now.
    const primaryCluster = job.primary.cluster;
    const primary = await this.send({ ...job, shadow: { target: job.primary.target, cluster: primaryCluster } });
    if (primary === 'too-large') return false;
    return compareResponses(primary, shadow, job.rules).match || versionsDiffer(primary.body, shadow.body, job.rules);
  }

  private recordMismatch(job: ShadowJob, response: ComparedSide, differences: string[]): void {
    this.record(job.route, 'mismatch');
    const mismatch: ShadowMismatch = {
      at: new Date().toISOString(),
      route: job.route,
      method: job.method,
      path: job.path,
      requestId: job.requestId,
      differences,
      primary: { target: job.primary.target, status: job.primary.status, body: job.primary.body.toString('utf8') },
      shadow: { target: job.shadow.target, status: response.status, body: response.body.toString('utf8') },
    };
    this.mismatches.push(mismatch);
    if (this.mismatches.length > this.options.keepMismatches) this.mismatches.shift();
    void this.mismatchLog?.append(mismatch);
  }

  private send(job: ShadowJob): Promise<{ status: number; body: Buffer } | 'too-large'> {
    const endpoint = job.shadow.cluster.pick();
    return new Promise((resolve, reject) => {
      const request = endpoint.transport.request(
        { agent: this.agentFor(endpoint), hostname: endpoint.hostname, port: endpoint.port, method: job.method, path: endpoint.basePath + job.path, headers: { ...job.headers, host: endpoint.hostHeader } },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > job.maxBodyBytes) {
              request.destroy();
              resolve('too-large');
            } else chunks.push(chunk);
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
          response.on('error', reject);
        },
      );
      const timer = setTimeout(() => request.destroy(new Error(`shadow copy timed out after ${job.timeoutMs} ms`)), job.timeoutMs);
      timer.unref();
      request.on('close', () => clearTimeout(timer));
      request.on('error', reject);
      request.end(job.body);
    });
  }
}
