import { HttpApplication, type ApplicationDeps } from '../service-kit';
import { LEGACY_MIGRATIONS } from './data/schema';
import { OwnerDelegation } from './delegation';
import { ReplicaWaiter } from './replica-waiter';
import { MODULES, MODULE_NAMES } from './modules';
import { parseMonolithOptions, type MonolithOptionsInput } from './options';

export const LEGACY_ORIGIN = 'legacy';

/**
 * The legacy monolith: users, catalogue, payments and orders in one process on one database, in three layers per
 * module (routes -> service -> data). start()/stop().
 */
export class LegacyMonolith extends HttpApplication {
  constructor(input: MonolithOptionsInput, deps: ApplicationDeps) {
    const options = parseMonolithOptions(input);
    const { owners: _owners, replicaWaitMs: _wait, ownerTimeoutMs: _timeout, ...appOptions } = options;
    super(
      {
        origin: LEGACY_ORIGIN,
        component: 'legacy-monolith',
        migrations: LEGACY_MIGRATIONS,
        mount: (express, context) => {
          const replicas = new ReplicaWaiter(options.databaseUrl, context.pool, context.logger);
          if (Object.keys(options.owners).length > 0) context.addPart(replicas);
          const delegation = new OwnerDelegation(options, replicas, context.registry);
          const moduleDeps = { pool: context.pool, auth: context.auth, origin: LEGACY_ORIGIN, delegation };
          for (const name of MODULE_NAMES) express.use(MODULES[name].prefix, MODULES[name].router(moduleDeps));
        },
      },
      appOptions,
      deps,
    );
  }
}
