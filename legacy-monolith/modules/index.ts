import type { Router } from 'express';
import { productsRouter } from './catalog/routes';
import type { ModuleDeps } from './context';
import { ordersRouter } from './orders/routes';
import { paymentsRouter } from './payments/routes';
import { usersRouter } from './users/routes';

export type { ModuleDeps } from './context';

/** The monolith's modules, one per bounded context, keyed by the route prefix they serve. */
export const MODULES = {
  users: { prefix: '/api/users', router: usersRouter },
  catalog: { prefix: '/api/products', router: productsRouter },
  payments: { prefix: '/api/payments', router: paymentsRouter },
  orders: { prefix: '/api/orders', router: ordersRouter },
} as const satisfies Record<string, { prefix: string; router: (deps: ModuleDeps) => Router }>;

export type ModuleName = keyof typeof MODULES;
export const MODULE_NAMES = Object.keys(MODULES) as ModuleName[];
