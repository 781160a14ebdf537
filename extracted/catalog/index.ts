import type { ShopApplication, ShopApplicationDeps } from '../../legacy-monolith';
import type { AppOptionsInput } from '../common/options';
import { createService, type ServiceDefinition } from '../services';

export const CATALOG_SERVICE: ServiceDefinition = { name: 'catalog', defaultPort: 3102, owns: 'product', replicates: ['product'] };

/** The extracted catalog service on its own database (demo: `strangler_catalog`). */
export function createCatalogService(options: Omit<AppOptionsInput, 'port'> & { port?: number }, deps: ShopApplicationDeps): ShopApplication {
  return createService(CATALOG_SERVICE, options, deps);
}
