import type { ShopApplication, ShopApplicationDeps } from '../../legacy-monolith';
import type { AppOptionsInput } from '../common/options';
import { createService, type ServiceDefinition } from '../services';

export const ORDERS_SERVICE: ServiceDefinition = { name: 'orders', defaultPort: 3104, owns: 'order', replicates: ['user', 'product', 'order', 'payment'] };

/** The extracted orders service on its own database (demo: `strangler_orders`). */
export function createOrdersService(options: Omit<AppOptionsInput, 'port'> & { port?: number }, deps: ShopApplicationDeps): ShopApplication {
  return createService(ORDERS_SERVICE, options, deps);
}
