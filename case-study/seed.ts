import type { Logger } from 'pino';

export const DEMO_USER = { email: 'demo@shop.test', name: 'Demo Shopper', password: 'demo-password' };

const PRODUCTS: [sku: string, name: string, priceCents: number, stock: number][] = [
  ['TEA-EARL-GREY', 'Earl Grey, 100 g', 650, 500],
  ['TEA-SENCHA', 'Sencha, 100 g', 890, 400],
  ['TEA-ROOIBOS', 'Rooibos, 100 g', 590, 400],
  ['POT-CAST-IRON', 'Cast-iron teapot', 4900, 120],
  ['POT-GLASS', 'Glass teapot', 2900, 150],
  ['CUP-PORCELAIN', 'Porcelain cup', 1200, 800],
  ['CUP-DOUBLE-WALL', 'Double-wall glass cup', 1500, 600],
  ['KETTLE-GOOSENECK', 'Gooseneck kettle', 7900, 80],
  ['STRAINER-MESH', 'Mesh strainer', 450, 1000],
  ['TIMER-SAND', 'Sand timer, 3 min', 800, 300],
  ['TRAY-BAMBOO', 'Bamboo tea tray', 3400, 90],
  ['CADDY-TIN', 'Tea caddy tin', 1100, 250],
];

async function call(baseUrl: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * Seeds an empty legacy database through the monolith's own API, so every seed row also becomes an outbox event
 * that the services receive: a demo user and a small tea shop catalogue.
 */
export async function seedLegacy(legacyUrl: string, logger: Logger): Promise<void> {
  const existing = await call(legacyUrl, 'GET', '/api/products?limit=1');
  if (Array.isArray(existing.body) && existing.body.length > 0) return;
  const registered = await call(legacyUrl, 'POST', '/api/users', DEMO_USER);
  if (registered.status !== 201 && registered.status !== 409) throw new Error(`seed: register demo user: ${registered.status} ${JSON.stringify(registered.body)}`);
  const login = await call(legacyUrl, 'POST', '/api/users/login', { email: DEMO_USER.email, password: DEMO_USER.password });
  const token = (login.body as { token: string }).token;
  for (const [sku, name, priceCents, stock] of PRODUCTS) {
    const created = await call(legacyUrl, 'POST', '/api/products', { sku, name, priceCents, currency: 'EUR', stock }, token);
    if (created.status !== 201) throw new Error(`seed: product ${sku}: ${created.status} ${JSON.stringify(created.body)}`);
  }
  logger.info({ products: PRODUCTS.length, user: DEMO_USER.email }, 'seeded the legacy database');
}
