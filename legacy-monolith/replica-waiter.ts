import { Client, type Pool } from 'pg';
import type { Logger } from 'pino';

const CHANNEL = 'strangler_replica';
/** A safety net under the notifications: a waiter re-reads its row this often, in case a notification was missed. */
const RECHECK_MS = 100;
const RECONNECT_MS = 1_000;

interface Waiter {
  version: number;
  arrived(): void;
}

/**
 * Waits until a replica row of this database reaches a version, woken by the notification the row's trigger sends
 * when the sync consumer writes it (migration legacy_002_replica_notify), so a wait costs one query and a
 * LISTEN, not a poll loop. One LISTEN connection per process, reconnected when it drops; while it is down,
 * waits fall back to re-reading every 100 ms.
 */
export class ReplicaWaiter {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private listener: Client | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly connectionString: string,
    private readonly pool: Pool,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    await this.listen();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnect);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.connectionString });
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'replica listener failed; reconnecting');
      if (this.listener === client) this.listener = undefined;
      this.scheduleReconnect();
    });
    client.on('notification', (message) => this.onNotification(message.payload));
    try {
      await client.connect();
      await client.query(`listen ${CHANNEL}`);
      this.listener = client;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (this.stopped) return;
      this.logger.warn({ err: error }, 'replica listener could not connect; retrying');
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnect) return;
    this.reconnect = setTimeout(() => {
      this.reconnect = undefined;
      void this.listen();
    }, RECONNECT_MS);
    this.reconnect.unref();
  }

  private onNotification(payload: string | undefined): void {
    if (!payload) return;
    const separator = payload.lastIndexOf(':');
    const waiting = this.waiters.get(payload.slice(0, separator));
    if (!waiting) return;
    const version = Number(payload.slice(separator + 1));
    for (const waiter of waiting) if (version >= waiter.version) waiter.arrived();
  }

  /** Resolves true once `table`'s row `id` is at `version` or newer, false after `timeoutMs`. */
  async waitFor(table: string, id: string, version: number, timeoutMs: number): Promise<boolean> {
    const key = `${table}:${id}`;
    const statement = `select version from ${table} where id = $1`;
    const present = async () => {
      const row = (await this.pool.query(statement, [id])).rows[0] as { version: number } | undefined;
      return row !== undefined && row.version >= version;
    };
    let arrived!: () => void;
    const notified = new Promise<void>((resolve) => (arrived = resolve));
    const waiter: Waiter = { version, arrived };
    let waiting = this.waiters.get(key);
    if (!waiting) this.waiters.set(key, (waiting = new Set()));
    waiting.add(waiter);
    const deadline = performance.now() + timeoutMs;
    try {
      // Registered before the first read: a notification between the read and the wait is not missed.
      if (await present()) return true;
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) return false;
        let timer: NodeJS.Timeout | undefined;
        const woken = await Promise.race([notified.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.min(left, RECHECK_MS))))]);
        clearTimeout(timer);
        if (woken || (await present())) return true;
      }
    } finally {
      waiting.delete(waiter);
      if (waiting.size === 0) this.waiters.delete(key);
    }
  }
}
