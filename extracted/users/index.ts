import { HttpApplication, parseAppOptions, type AppOptionsInput, type ApplicationDeps } from '../../service-kit';
import { usersRouter } from './routes';
import { USERS_MIGRATIONS } from './schema';

export const USERS_ORIGIN = 'users';
export const USERS_DEFAULT_PORT = 3101;
export { USERS_MIGRATIONS } from './schema';
export type { Account } from './accounts';

/** The users service: accounts on its own database (demo: `strangler_users`), /api/users. */
export function createUsersService(options: Omit<AppOptionsInput, 'port'> & { port?: number }, deps: ApplicationDeps): HttpApplication {
  return new HttpApplication(
    { origin: USERS_ORIGIN, component: 'service-users', migrations: USERS_MIGRATIONS, mount: (app, context) => app.use('/api/users', usersRouter(context, USERS_ORIGIN)) },
    parseAppOptions({ port: USERS_DEFAULT_PORT, ...options }),
    deps,
  );
}
