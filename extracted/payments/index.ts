import { HttpApplication, parseAppOptions, type AppOptionsInput, type ApplicationDeps } from '../../service-kit';
import { paymentsRouter } from './routes';
import { PAYMENTS_MIGRATIONS } from './schema';

export const PAYMENTS_ORIGIN = 'payments';
export const PAYMENTS_DEFAULT_PORT = 3103;
export { PAYMENTS_MIGRATIONS } from './schema';

/** The payments service on its own database (demo: `strangler_payments`), /api/payments. */
export function createPaymentsService(options: Omit<AppOptionsInput, 'port'> & { port?: number }, deps: ApplicationDeps): HttpApplication {
  return new HttpApplication(
    { origin: PAYMENTS_ORIGIN, component: 'service-payments', migrations: PAYMENTS_MIGRATIONS, mount: (app, context) => app.use('/api/payments', paymentsRouter(context, PAYMENTS_ORIGIN)) },
    parseAppOptions({ port: PAYMENTS_DEFAULT_PORT, ...options }),
    deps,
  );
}
