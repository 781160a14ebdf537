import http from 'node:http';
import type { Logger } from 'pino';
import type { ClusterRuntime } from './cluster';
import { compareResponses, type CompareRules } from './diff';
import type { ShadowResult, Target } from './metrics';

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
  primary: { target: Target; status: number; body: Buffer };
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
  private readonly agents = new Map<ClusterRuntime, http.Agent>();
  private readonly idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(
    private options: ShadowRunnerOptions,
    private readonly record: (route: string, result: ShadowResult) => void,
    private readonly logger: Logger,
  ) {}

  configure(options: ShadowRunnerOptions): void {
    this.options = options;
    this.mismatches.splice(0, Math.max(0, this.mismatches.length - options.keepMismatches));
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
    if (this.active > 0 || this.queue.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
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
          if (this.active === 0 && this.queue.length === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
        });
    }
  }

  private agentFor(cluster: ClusterRuntime): http.Agent {
    let agent = this.agents.get(cluster);
    if (!agent) {
      agent = new cluster.transport.Agent({ keepAlive: true, maxSockets: this.options.concurrency });
      this.agents.set(cluster, agent);
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
    this.record(job.route, match ? 'match' : 'mismatch');
    if (match) return;
    this.mismatches.push({
      at: new Date().toISOString(),
      route: job.route,
      method: job.method,
      path: job.path,
      requestId: job.requestId,
      differences,
      primary: { target: job.primary.target, status: job.primary.status, body: job.primary.body.toString('utf8') },
      shadow: { target: job.shadow.target, status: response.status, body: response.body.toString('utf8') },
    });
    if (this.mismatches.length > this.options.keepMismatches) this.mismatches.shift();
  }

  private send(job: ShadowJob): Promise<{ status: number; body: Buffer } | 'too-large'> {
    const cluster = job.shadow.cluster;
    return new Promise((resolve, reject) => {
      const request = cluster.transport.request(
        { agent: this.agentFor(cluster), hostname: cluster.hostname, port: cluster.port, method: job.method, path: cluster.basePath + job.path, headers: job.headers },
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
