import type { ClusterRuntime } from './cluster';
import type { ProxyMetrics } from './metrics';
import type { ProxyConfig } from './options';

export type ConsistencyConfig = ProxyConfig['consistency'];
/** How a wait for a user's writes ended; the `outcome` label of strangler_proxy_consistency_waits_total. */
export type WaitOutcome = 'applied' | 'timeout' | 'error' | 'unsupported';

interface Written {
  entry: string;
  /** The cluster that answered the write: it has the event already. */
  writer: string;
  /** Clusters that answered that they have applied it. */
  appliedBy: Set<string>;
}

/** A write as one worker tells the others. */
export interface SharedWrite {
  user: string;
  writer: string;
  headerValue: string;
}

interface UserWrites {
  writes: Written[];
  expiresAt: number;
}

/**
 * Read-your-writes across sides. A successful write's answer lists, in the `consistency.header`, the events it
 * appended (`<aggregatetype>:<event id>@<origin>`); the proxy remembers them per user (userId, else the session
 * cookie) for `windowMs`. A later request of that user to a cluster that did not answer the write first asks that
 * cluster (GET `appliedPath`) whether it has applied them, waiting up to `waitMs`; the cluster ignores events it
 * wrote itself or does not apply. Past the bound the request goes on, and the timeout is counted.
 */
export class ConsistencyTracker {
  private readonly users = new Map<string, UserWrites>();
  private readonly warnedUnsupported = new Set<string>();

  constructor(
    private config: ConsistencyConfig,
    private readonly metrics: () => ProxyMetrics,
    private readonly warn: (cluster: string, message: string) => void,
    /** Told of each write recorded here, to share it with the other workers of one proxy (see `learn`). */
    private readonly onRecord?: (write: SharedWrite) => void,
  ) {}

  get enabled(): boolean {
    return this.config.enabled;
  }

  get header(): string {
    return this.config.header;
  }

  configure(config: ConsistencyConfig): void {
    this.config = config;
    if (!config.enabled) this.users.clear();
  }

  /** Remembers the entries of a write's `header` value for `user`, answered by `writer`. */
  record(user: string, writer: string, headerValue: string): void {
    this.learn({ user, writer, headerValue });
    this.onRecord?.({ user, writer, headerValue });
  }

  /** Remembers a write another worker recorded. */
  learn({ user, writer, headerValue }: SharedWrite): void {
    if (!this.config.enabled) return;
    const now = Date.now();
    let known = this.users.get(user);
    if (known && known.expiresAt <= now) known = undefined;
    const writes = known?.writes ?? [];
    for (const raw of headerValue.split(',')) {
      const entry = raw.trim();
      if (entry !== '' && entry.length <= 200) writes.push({ entry, writer, appliedBy: new Set() });
    }
    if (writes.length === 0) return;
    if (writes.length > this.config.maxEventsPerUser) writes.splice(0, writes.length - this.config.maxEventsPerUser);
    // Re-inserted at the end: the Map's order is the order of last writes, oldest first.
    this.users.delete(user);
    this.users.set(user, { writes, expiresAt: now + this.config.windowMs });
    while (this.users.size > this.config.maxTracked) this.users.delete(this.users.keys().next().value!);
    this.metrics().consistencyTracked.set(this.users.size);
  }

  /** The writes of `users` (a userId, a session) that `cluster` may not have yet; undefined when there are none. */
  pendingFor(users: string[], cluster: string): Written[] | undefined {
    let pending: Written[] | undefined;
    for (const user of users) {
      const found = this.users.get(user);
      if (!found) continue;
      if (found.expiresAt <= Date.now()) {
        this.users.delete(user);
        this.metrics().consistencyTracked.set(this.users.size);
        continue;
      }
      for (const write of found.writes) if (write.writer !== cluster && !write.appliedBy.has(cluster)) (pending ??= []).push(write);
    }
    return pending;
  }

  /** Asks `cluster` whether it has applied `pending`, waiting up to `waitMs`; resolves how the wait ended, never rejects. */
  async waitFor(cluster: ClusterRuntime, pending: Written[], route: string): Promise<WaitOutcome> {
    const started = performance.now();
    const { waitMs, appliedPath } = this.config;
    let outcome: WaitOutcome;
    try {
      // The endpoints of a cluster share its database: any of them knows what the cluster has applied.
      const endpoint = cluster.pick();
      const response = await endpoint.pool.request({
        method: 'GET',
        path: `${endpoint.basePath}${appliedPath}?events=${encodeURIComponent(pending.map((write) => write.entry).join(','))}&waitMs=${waitMs}`,
        headers: { host: endpoint.hostHeader, accept: 'application/json' },
        headersTimeout: waitMs + 1_000,
        bodyTimeout: 1_000,
      });
      const text = await response.body.text();
      if (response.statusCode === 404) {
        outcome = 'unsupported';
        if (!this.warnedUnsupported.has(cluster.name)) {
          this.warnedUnsupported.add(cluster.name);
          this.warn(cluster.name, `cluster answers 404 at ${appliedPath}: read-your-writes cannot wait for it (mount appliedEventsHandler)`);
        }
      } else if (response.statusCode !== 200) {
        outcome = 'error';
      } else {
        outcome = (JSON.parse(text) as { applied?: unknown }).applied === true ? 'applied' : 'timeout';
      }
    } catch {
      outcome = 'error';
    }
    if (outcome === 'applied') for (const write of pending) write.appliedBy.add(cluster.name);
    const metrics = this.metrics();
    metrics.consistencyWaits.labels(route, outcome).inc();
    metrics.consistencyWaitDuration.labels(route).observe((performance.now() - started) / 1000);
    return outcome;
  }
}
