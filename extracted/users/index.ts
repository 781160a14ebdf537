import type { ShopApplication, ShopApplicationDeps } from '../../legacy-monolith';
import type { AppOptionsInput } from '../common/options';
import { createService, type ServiceDefinition } from '../services';

export const USERS_SERVICE: ServiceDefinition = { name: 'users', defaultPort: 3101, owns: 'user', replicates: ['user'] };

/** The extracted users service on its own database (demo: `strangler_users`). */
export function createUsersService(options: Omit<AppOptionsInput, 'port'> & { port?: number }, deps: ShopApplicationDeps): ShopApplication {
  return createService(USERS_SERVICE, options, deps);
}
