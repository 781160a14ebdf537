import { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Auth } from '../extracted/common/auth';
import { createApiApp } from '../extracted/common/http';
import { parseAppOptions, type AppOptions, type AppOptionsInput } from '../extracted/common/options';
import { migrateShop } from '../extracted/common/schema';
import { HttpService } from '../extracted/common/server';
import { MODULES, type ModuleName } from './modules';

export interface ShopApplicationDeps {
  logger: Logger;
  registry: Registry;
}

/**
 * One shop process: its database (migrated on start), the modules it serves, and its HTTP server. The monolith
 * runs all four modules as `legacy`; an extracted service runs one, as itself. start()/stop() as usual.
 */
export class ShopApplication {
  readonly options: AppOptions;
  readonly pool: Pool;
  private readonly http: HttpService;
  private readonly logger: Logger;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly origin: string,
    modules: readonly ModuleName[],
    options: AppOptionsInput,
    deps: ShopApplicationDeps,
  ) {
    this.options = parseAppOptions(options);
    this.logger = deps.logger.child({ component: origin === 'legacy' ? 'legacy-monolith' : `service-${origin}` });
    this.pool = new Pool({ connectionString: this.options.databaseUrl, max: this.options.poolSize });
    this.pool.on('error', (error) => this.logger.warn({ err: error }, 'idle database client failed'));
    const moduleDeps = { pool: this.pool, auth: new Auth(this.options), origin };
    const app = createApiApp({
      logger: this.logger,
      registry: deps.registry,
      mount: (express) => {
        for (const name of modules) express.use(MODULES[name].prefix, MODULES[name].router(moduleDeps));
      },
    });
    this.http = new HttpService(app, this.options);
  }

  get url(): string {
    return this.http.url;
  }

  async start(): Promise<void> {
    await migrateShop(this.pool);
    await this.http.start();
    this.logger.info({ url: this.url }, 'listening');
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.http.stop();
      await this.pool.end();
    })();
    return this.stopping;
  }
}
