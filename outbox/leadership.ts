import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { OutboxError } from './errors';
import { createRelayMetrics, type RelayMetrics } from './metrics';
import { outboxMigrations, runMigrations, type Migration } from './migrations';
import type { RelayOptions } from './options';
import { PublishPipeline } from './pipeline';
import { KafkaPublisher, type Publisher } from './publisher';

export interface RelayDeps {
  logger: Logger;
  registry: Registry;
  /** Defaults to a KafkaPublisher built from options.kafka. */
  publisher?: Publisher;
}

/** What a leader session gets: the connection holding the lock, and signals that end the session. */
export interface LeaderSession<C = pg.Client> {
  client: C;
  /** Rejects when the lock connection fails: leadership is gone, stop publishing at once. */
  lost: Promise<never>;
  /** Resolves when stop() was called: finish in-flight work and return. */
  stopRequested: Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * The connection that holds a relay's leadership: a lock only one connection at a time can hold, released by the
 * server when the connection drops (a Postgres advisory lock; MySQL's GET_LOCK for binlog capture).
 */
export interface LockConnection<C> {
  readonly client: C;
  /** Connects; `lost` is called when the connection fails or closes afterwards. */
  connect(lost: (error: Error) => void): Promise<void>;
  /** Takes the lock without waiting: true when this connection holds it now. */
  tryLock(key: string): Promise<boolean>;
  end(): Promise<void>;
}

/** Leadership on Postgres: a session-level advisory lock on the key's 64-bit hash. */
export function postgresLockConnection(connectionString: string, applicationName: string): LockConnection<pg.Client> {
  const client = new pg.Client({ connectionString, application_name: applicationName });
  return {
    client,
    async connect(lost) {
      client.on('error', (error) => lost(error));
      client.on('end', () => lost(new OutboxError('SFG_OUTBOX_LEADER_CONNECTION_LOST', 'leadership connection closed', { retriable: true })));
      await client.connect();
    },
    async tryLock(key) {
      const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as locked', [key]);
      return rows[0]?.locked === true;
    },
    end: () => client.end(),
  };
}

/**
 * The lifecycle every relay shares: connect the publisher, then loop taking a lock (createLockConnection: a Postgres
 * advisory lock, or MySQL's GET_LOCK for binlog capture) on a dedicated
 * connection. The holder leads (publishes); the others wait as hot standbys and retry every
 * leadership.retryIntervalMs, so one takes over within that period after the leader's connection drops. A session
 * that fails with a retriable error is restarted after a backoff; a non-retriable OutboxError stops the relay.
 *
 * Events: 'leader' (publishing, so writes from now on are captured) and 'standby' on each change, 'fatal' (error) before stopping on a non-retriable error.
 */
export abstract class LeaderElectedRelay<C = pg.Client> extends EventEmitter {
  protected readonly logger: Logger;
  protected readonly metrics: RelayMetrics;
  protected readonly publisher: Publisher;
  protected pipeline: PublishPipeline<unknown> | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private requestStop!: () => void;
  private readonly stopRequested = new Promise<void>((resolve) => (this.requestStop = resolve));
  private leading = false;
  private resolveDone!: (error: Error | undefined) => void;
  /** Resolves when the relay has stopped: undefined after stop(), the error after a fatal one. */
  readonly done = new Promise<Error | undefined>((resolve) => (this.resolveDone = resolve));

  constructor(
    readonly options: RelayOptions,
    deps: RelayDeps,
  ) {
    super();
    this.logger = deps.logger.child({ component: 'outbox-relay', relay: options.name, mode: options.mode });
    this.metrics = createRelayMetrics(deps.registry, options.name);
    const topics = options.topics && { layout: options.topics, prefix: options.topicPrefix };
    this.publisher = deps.publisher ?? new KafkaPublisher({ ...options.kafka, topics }, { logger: this.logger });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Migrations this mode needs on top of the outbox table. */
  protected extraMigrations(): Migration[] {
    return [];
  }

  /** Publishes as leader until session.stopRequested (drain, confirm, return) or a failure (throw). */
  protected abstract lead(session: LeaderSession<C>): Promise<void>;

  /** The connection that holds leadership (and is handed to lead()): Postgres unless a relay reads another database. */
  protected createLockConnection(): LockConnection<C> {
    return postgresLockConnection(this.options.connectionString, `strangler-relay-${this.options.name}`) as unknown as LockConnection<C>;
  }

  /** Subclasses call this once the leader session is set up and publishing (the slot exists, the stream runs). */
  protected announceLeading(): void {
    this.emit('leader');
  }

  /** Resolves once this instance is leading or standing by; rejects if it cannot start at all. */
  async start(): Promise<void> {
    if (this.loop) return;
    const { options } = this;
    if (options.migrate) {
      const client = new pg.Client({ connectionString: options.connectionString });
      await client.connect();
      try {
        const migrations = [...(options.table === 'outbox' ? outboxMigrations({ schema: options.schema }) : []), ...this.extraMigrations()];
        await runMigrations(client, migrations, { schema: options.schema });
      } finally {
        await client.end();
      }
    }
    await this.publisher.connect();
    let settle!: (error?: Error) => void;
    const settled = new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
    const ready = () => settle();
    this.once('leader', ready).once('standby', ready).once('fatal', settle);
    this.loop = this.run();
    try {
      await settled;
    } finally {
      this.off('leader', ready).off('standby', ready).off('fatal', settle);
    }
  }

  /** Finishes in-flight sends (up to stopTimeoutMs), confirms what Kafka acknowledged, releases leadership. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.requestStop();
      setTimeout(() => this.pipeline?.abort(), this.options.stopTimeoutMs).unref();
    }
    await this.loop;
    await this.publisher.disconnect();
  }

  private async run(): Promise<void> {
    const { options } = this;
    let failures = 0;
    let fatal: Error | undefined;
    while (!this.stopping) {
      const connection = this.createLockConnection();
      let rejectLost!: (error: Error) => void;
      const lost = new Promise<never>((_, reject) => (rejectLost = reject));
      lost.catch(() => undefined);
      let lagTimer: NodeJS.Timeout | undefined;
      try {
        await connection.connect((error) => rejectLost(error));
        if (!(await this.acquire(connection, lost))) break;
        this.leading = true;
        this.metrics.leader.set(1);
        this.logger.info('leadership acquired');
        // The lag gauge ages while events wait, even when nothing else happens.
        lagTimer = setInterval(() => this.pipeline?.refreshLag(), options.heartbeatIntervalMs);
        lagTimer.unref();
        await this.lead({ client: connection.client, lost, stopRequested: this.stopRequested });
        failures = 0;
      } catch (error) {
        if (error instanceof OutboxError && !error.retriable) {
          fatal = error;
          this.logger.error({ err: error }, 'relay stopped by a non-retriable error');
          this.emit('fatal', error);
          break;
        }
        failures += 1;
        const delayMs = Math.min(options.retryBackoffMs.max, options.retryBackoffMs.initial * 2 ** Math.min(failures, 16));
        this.logger.warn({ err: error, delayMs }, 'relay session failed; restarting');
        if (this.leading) this.emit('standby');
        await Promise.race([sleep(delayMs), this.stopRequested]);
      } finally {
        clearInterval(lagTimer);
        if (this.leading) this.logger.info('leadership released');
        this.leading = false;
        this.metrics.leader.set(0);
        this.pipeline = undefined;
        await connection.end().catch(() => undefined);
      }
    }
    this.stopping = true;
    this.resolveDone(fatal);
  }

  /** Takes the lock, retrying as a standby; false when stop() came first. */
  private async acquire(connection: LockConnection<C>, lost: Promise<never>): Promise<boolean> {
    let announced = false;
    while (!this.stopping) {
      if (await connection.tryLock(this.options.leadership.lockKey)) return true;
      if (!announced) {
        announced = true;
        this.logger.info('standing by: another instance leads');
        this.emit('standby');
      }
      await Promise.race([sleep(this.options.leadership.retryIntervalMs), this.stopRequested, lost]);
    }
    return false;
  }
}
