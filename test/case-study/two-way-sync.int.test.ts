import { Registry } from 'prom-client';
import { APPROVED_CARD, ApiClient } from './fixtures';
import { eventually } from '../helpers';
import { TestStack } from './stack-fixture';

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

describe.each(['cdc', 'polling'] as const)('two-way sync between the monolith and the services (%s relays)', (relayMode) => {
  let test: TestStack;
  const api = (origin: string) => new ApiClient(test.stack.node(origin).app.url);
  const row = async (origin: string, table: string, id: string) =>
    (await test.stack.node(origin).app.pool.query(`select * from ${table} where id = $1`, [id])).rows[0];

  beforeAll(async () => {
    test = new TestStack('sfg_sync', { relayMode });
    await test.stack.start();
  });
  afterAll(async () => {
    await test?.stop();
  });

  it('carries legacy writes to the services, and service writes back to legacy and to the other services, without loops', async () => {
    const email = `sync-${Date.now()}@shop.test`;
    const registered = await api('legacy').request<{ id: string }>('POST', '/api/users', { body: { email, name: 'Lin', password: 'synced-password' } });
    const legacyLogin = await api('legacy').request<{ token: string }>('POST', '/api/users/login', { body: { email, password: 'synced-password' } });
    const product = await api('legacy').request<{ id: string }>('POST', '/api/products', {
      token: legacyLogin.body.token,
      body: { sku: `SYNC-${Date.now()}`, name: 'Synced teapot', priceCents: 2000, currency: 'EUR', stock: 5 },
    });
    const userId = registered.body.id;
    const productId = product.body.id;

    // Legacy -> services: the users service can log the user in (hash included); orders learned user and product.
    await eventually(() => row('users', 'users', userId), 30_000, 'user on the users service');
    await eventually(() => row('orders', 'users', userId), 30_000, 'user replica on the orders service');
    await eventually(() => row('orders', 'products', productId), 30_000, 'product replica on the orders service');
    await eventually(() => row('catalog', 'products', productId), 30_000, 'product on the catalog service');
    const serviceLogin = await api('users').request<{ token: string }>('POST', '/api/users/login', { body: { email, password: 'synced-password' } });
    expect(serviceLogin.status).toBe(200);

    // A token issued by legacy places an order on the orders service, which only knows user and product via events.
    const order = await api('orders').request<{ id: string; paymentId: string }>('POST', '/api/orders', {
      token: legacyLogin.body.token,
      body: { items: [{ productId, quantity: 2 }], card: APPROVED_CARD },
    });
    expect(order.status).toBe(201);

    // Services -> legacy, and to the other services: order, payment and the stock reservation.
    await eventually(async () => (await row('legacy', 'orders', order.body.id))?.status === 'placed', 30_000, 'order on legacy');
    await eventually(async () => (await row('legacy', 'payments', order.body.paymentId))?.status === 'captured', 30_000, 'payment on legacy');
    await eventually(async () => (await row('legacy', 'products', productId))?.stock === 3, 30_000, 'stock on legacy');
    await eventually(async () => (await row('catalog', 'products', productId))?.stock === 3, 30_000, 'stock on catalog');
    await eventually(async () => (await row('payments', 'payments', order.body.paymentId))?.status === 'captured', 30_000, 'payment on payments');

    // Users still routed to legacy see the order placed on the new side, and can cancel it there.
    const onLegacy = await api('legacy').request<{ status: string }>('GET', `/api/orders/${order.body.id}`, { token: legacyLogin.body.token });
    expect(onLegacy.body.status).toBe('placed');
    const cancelled = await api('legacy').request<{ version: number }>('POST', `/api/orders/${order.body.id}/cancel`, { token: legacyLogin.body.token });
    expect(cancelled.body.version).toBe(2);
    await eventually(async () => (await row('orders', 'orders', order.body.id))?.status === 'cancelled', 30_000, 'cancel on the orders service');
    await eventually(async () => (await row('orders', 'products', productId))?.stock === 5, 30_000, 'released stock on the orders service');

    // No loops: a sync consumer never writes an outbox event, so each side published only its own order event
    // (legacy: the cancel; orders: the placement), whatever it applied from the other side. The relays' counters
    // hold for both relay modes (a polling relay deletes what it published).
    const published = (origin: string) => metricValue(test.stack.node(origin).registry, 'strangler_outbox_published_total', { aggregatetype: 'order' });
    await eventually(async () => (await published('legacy')) === 1 && (await published('orders')) === 1, 30_000, 'one order event published per side');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect([await published('legacy'), await published('orders')]).toEqual([1, 1]);
    expect(await metricValue(test.stack.node('legacy').registry, 'strangler_sync_events_total', { outcome: 'applied', aggregatetype: 'order' })).toBeGreaterThanOrEqual(1);
  });

  it('detects a conflicting concurrent update from both sides and resolves it by the owner-wins rule on both', async () => {
    const email = `conflict-${Date.now()}@shop.test`;
    await api('legacy').request('POST', '/api/users', { body: { email, name: 'Cy', password: 'conflict-password' } });
    const { body } = await api('legacy').request<{ token: string }>('POST', '/api/users/login', { body: { email, password: 'conflict-password' } });
    const token = body.token;
    const conflictsBefore = {
      legacy: await metricValue(test.stack.node('legacy').registry, 'strangler_sync_events_total', { outcome: 'conflict', aggregatetype: 'product' }),
      catalog: await metricValue(test.stack.node('catalog').registry, 'strangler_sync_events_total', { outcome: 'conflict', aggregatetype: 'product' }),
    };
    // Both sides rename the same product version at the same moment: each writes version 2 before the other's
    // event can arrive (a retry covers the rare run where one side saw the other's event first).
    let productId = '';
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const created = await api('legacy').request<{ id: string }>('POST', '/api/products', {
        token,
        body: { sku: `CONFLICT-${Date.now()}-${attempt}`, name: 'Original', priceCents: 100, currency: 'EUR', stock: 1 },
      });
      productId = created.body.id;
      await eventually(() => row('catalog', 'products', productId), 30_000, 'product on catalog');
      const [legacySide, catalogSide] = await Promise.all([
        api('legacy').request<{ version: number }>('PATCH', `/api/products/${productId}`, { token, body: { name: 'Renamed on legacy' } }),
        api('catalog').request<{ version: number }>('PATCH', `/api/products/${productId}`, { token, body: { name: 'Renamed on catalog' } }),
      ]);
      if (legacySide.body.version === 2 && catalogSide.body.version === 2) break;
    }
    // The owner (catalog) wins on both sides; both consumers count the conflict.
    await eventually(async () => (await row('legacy', 'products', productId))?.name === 'Renamed on catalog', 30_000, 'catalog state on legacy');
    await eventually(
      async () => (await metricValue(test.stack.node('catalog').registry, 'strangler_sync_events_total', { outcome: 'conflict', aggregatetype: 'product' })) > conflictsBefore.catalog,
      30_000,
      'conflict counted on catalog',
    );
    expect(await metricValue(test.stack.node('legacy').registry, 'strangler_sync_events_total', { outcome: 'conflict', aggregatetype: 'product' })).toBeGreaterThan(conflictsBefore.legacy);
    expect(await row('catalog', 'products', productId)).toMatchObject({ name: 'Renamed on catalog', version: 2, origin: 'catalog' });
    expect(await row('legacy', 'products', productId)).toMatchObject({ name: 'Renamed on catalog', version: 2, origin: 'catalog' });
  });
});
