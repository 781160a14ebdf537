import type { Express, NextFunction, Request, Response } from 'express';
import { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { APPLIED_PATH, AppliedEvents, appliedEventsHandler, outboxMigrations, runMigrations, type Migration } from '../outbox';
import { Auth } from './auth';
import { createApiApp } from './http';
import { IDEMPOTENCY_MIGRATIONS, IdempotencyKeyPruner, idempotentWrites } from './idempotency';
import type { AppOptions } from './options';
import { HttpService } from './server';

export interface ApplicationDeps {
  logger: Logger;
  registry: Registry;
}

const PRUNE_EVERY_MS = 60 * 60 * 1000;

/** A long-running part of a process besides its HTTP server (a listener, a consumer): started after the migrations. */
export interface ProcessPart {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What the process hands to the code that mounts its routes. */
export interface MountContext {
  pool: Pool;
  auth: Auth;
  logger: Logger;
  registry: Registry;
  /** Registers a part that starts before the server listens and stops after it has drained. */
  addPart(part: ProcessPart): void;
}

export interface ApplicationDefinition {
  /** The `origin` header of its events: `legacy` or the service name. */
  origin: string;
  /** Logger component name. */
  component: string;
  /** Its own tables; the outbox and inbox are added. */
  migrations: readonly Migration[];
  mount(app: Express, context: MountContext): void;
}

/**
 * One case-study process: its own database (migrated on start), its routes, and its HTTP server, with the kit's
 * /healthz, /metrics, JSON 404 and error format. start()/stop(); stop() is idempotent.
 */
export class HttpApplication {
  readonly origin: string;
  readonly pool: Pool;
  readonly auth: Auth;
  private readonly http: HttpService;
  private readonly logger: Logger;
  private readonly parts: ProcessPart[] = [];
  private appliedEvents: ((req: Request, res: Response, next: NextFunction) => void) | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly definition: ApplicationDefinition,
    readonly options: AppOptions,
    deps: ApplicationDeps,
  ) {
    this.origin = definition.origin;
    this.logger = deps.logger.child({ component: definition.component });
    this.pool = new Pool({ connectionString: options.databaseUrl, max: options.poolSize });
    this.pool.on('error', (error) => this.logger.warn({ err: error }, 'idle database client failed'));
    this.auth = new Auth(options);
    this.parts.push(new IdempotencyKeyPruner(this.pool, { retainMs: options.idempotencyRetentionMs, everyMs: PRUNE_EVERY_MS }, this.logger));
    const context: MountContext = { pool: this.pool, auth: this.auth, logger: this.logger, registry: deps.registry, addPart: (part) => this.parts.push(part) };
    const app = createApiApp({
      logger: this.logger,
      registry: deps.registry,
      mount: (express) => {
        express.get(APPLIED_PATH, (req, res, next) => (this.appliedEvents ? this.appliedEvents(req, res, next) : next()));
        express.use(idempotentWrites(this.pool));
        definition.mount(express, context);
      },
    });
    this.http = new HttpService(app, options);
  }

  get url(): string {
    return this.http.url;
  }

  /**
   * Answers GET /_strangler/applied (the proxy's read-your-writes) for the events of `aggregateTypes`, which this
   * process's inbox consumers apply. Call before start().
   */
  answerAppliedEvents(aggregateTypes: readonly string[]): void {
    const applied = new AppliedEvents({ connectionString: this.options.databaseUrl, pool: this.pool, aggregateTypes: [...aggregateTypes], origin: this.origin }, this.logger);
    this.parts.push(applied);
    this.appliedEvents = appliedEventsHandler(applied);
  }

  async start(): Promise<void> {
    await runMigrations(this.pool, [...outboxMigrations(), ...IDEMPOTENCY_MIGRATIONS, ...this.definition.migrations]);
    for (const part of this.parts) await part.start();
    await this.http.start();
    this.logger.info({ url: this.url }, 'listening');
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.http.stop();
      for (const part of [...this.parts].reverse()) await part.stop();
      await this.pool.end();
    })();
    return this.stopping;
  }
}
