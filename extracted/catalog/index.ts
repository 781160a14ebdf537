import { HttpApplication, parseAppOptions, type AppOptionsInput, type ApplicationDeps } from '../../service-kit';
import { productsRouter } from './routes';
import { CATALOG_MIGRATIONS } from './schema';

export const CATALOG_ORIGIN = 'catalog';
export const CATALOG_DEFAULT_PORT = 3102;
export { CATALOG_MIGRATIONS } from './schema';
export type { CatalogProduct, PublicProduct } from './products';

/** The catalog service on its own database (demo: `strangler_catalog`), /api/products; it owns stock. */
export function createCatalogService(options: Omit<AppOptionsInput, 'port'> & { port?: number }, deps: ApplicationDeps): HttpApplication {
  return new HttpApplication(
    { origin: CATALOG_ORIGIN, component: 'service-catalog', migrations: CATALOG_MIGRATIONS, mount: (app, context) => app.use('/api/products', productsRouter(context, CATALOG_ORIGIN)) },
    parseAppOptions({ port: CATALOG_DEFAULT_PORT, ...options }),
    deps,
  );
}
