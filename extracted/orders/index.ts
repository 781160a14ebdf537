import { z } from 'zod';
import { appOptionsShape, baseUrl, HttpApplication, parseOptions, PeerClient, type ApplicationDeps } from '../../service-kit';
import { OrderStore } from './orders';
import { ordersRouter } from './routes';
import { OrderSagas } from './sagas';
import { ORDERS_MIGRATIONS } from './schema';

export const ORDERS_ORIGIN = 'orders';
export const ORDERS_DEFAULT_PORT = 3104;
export { ORDERS_MIGRATIONS } from './schema';
export type { StoredOrder, PublicOrder } from './orders';

export const ordersOptionsSchema = z.strictObject({
  ...appOptionsShape,
  port: appOptionsShape.port.default(ORDERS_DEFAULT_PORT),
  /** The catalog service, owner of stock: reservations and releases go through its API. */
  catalogUrl: baseUrl,
  /** The payments service: authorise, capture and refund through its API. */
  paymentsUrl: baseUrl,
  /** How long one call to either may take before it counts as unavailable. */
  peerTimeoutMs: z.number().int().positive().default(5_000),
});
export type OrdersOptionsInput = z.input<typeof ordersOptionsSchema>;

/** The orders service on its own database (demo: `strangler_orders`), /api/orders. */
export function createOrdersService(input: OrdersOptionsInput, deps: ApplicationDeps): HttpApplication {
  const { catalogUrl, paymentsUrl, peerTimeoutMs, ...options } = parseOptions(ordersOptionsSchema, input);
  return new HttpApplication(
    {
      origin: ORDERS_ORIGIN,
      component: 'service-orders',
      migrations: ORDERS_MIGRATIONS,
      mount: (app, context) => {
        const store = new OrderStore(context.pool);
        const sagas = new OrderSagas(store, new PeerClient('the catalog service', catalogUrl, peerTimeoutMs), new PeerClient('the payments service', paymentsUrl, peerTimeoutMs), context.logger, context.registry);
        app.use('/api/orders', ordersRouter(context, ORDERS_ORIGIN, store, sagas));
      },
    },
    options,
    deps,
  );
}
