import type { ShopApplication, ShopApplicationDeps } from '../../legacy-monolith';
import type { AppOptionsInput } from '../common/options';
import { createService, type ServiceDefinition } from '../services';

export const PAYMENTS_SERVICE: ServiceDefinition = { name: 'payments', defaultPort: 3103, owns: 'payment', replicates: ['payment'] };

/** The extracted payments service on its own database (demo: `strangler_payments`). */
export function createPaymentsService(options: Omit<AppOptionsInput, 'port'> & { port?: number }, deps: ShopApplicationDeps): ShopApplication {
  return createService(PAYMENTS_SERVICE, options, deps);
}
