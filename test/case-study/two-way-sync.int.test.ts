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

describe.each(['cdc', 'polling'] as const)('writes through the owner, and sync back to the monolith (%s relays)', (relayMode) => {
  let test: TestStack;
  const api = (origin: string) => new ApiClient(test.stack.node(origin).app.url);
  const row = async (origin: string, table: string, id: string) =>
    (await test.stack.node(origin).app.pool.query(`select * from ${table} where id = $1`, [id])).rows[0];
  const syncCount = (origin: string, labels: Record<string, string>) => metricValue(test.stack.node(origin).registry, 'strangler_sync_events_total', labels);

  beforeAll(async () => {
    test = new TestStack('sfg_sync', { relayMode });
    await test.stack.start();
  });
  afterAll(async () => {
    await test?.stop();
  });

  it("sends the monolith's writes to their owners, answers once its own replica has them, and replicates the owners' writes without loops", async () => {
    const email = `sync-${Date.now()}@shop.test`;
    const registered = await api('legacy').request<{ id: string }>('POST', '/api/users', { body: { email, name: 'Lin', password: 'synced-password' } });
    expect(registered.status).toBe(201);
    const userId = registered.body.id;
    // Written by the users service, in its own model; already readable on the monolith when it answered.
    expect(await row('users', 'accounts', userId)).toMatchObject({ email, display_name: 'Lin', origin: 'users' });
    expect(await row('legacy', 'users', userId)).toMatchObject({ email, name: 'Lin', origin: 'users', version: 1 });
    const legacyLogin = await api('legacy').request<{ token: string }>('POST', '/api/users/login', { body: { email, password: 'synced-password' } });
    expect(legacyLogin.status).toBe(200);
    const token = legacyLogin.body.token;
    expect((await api('users').request('POST', '/api/users/login', { body: { email, password: 'synced-password' } })).status).toBe(200);

    const product = await api('legacy').request<{ id: string }>('POST', '/api/products', {
      token,
      body: { sku: `SYNC-${Date.now()}`, name: 'Synced teapot', priceCents: 2000, currency: 'EUR', stock: 5 },
    });
    expect(product.status).toBe(201);
    const productId = product.body.id;
    expect(await row('catalog', 'products', productId)).toMatchObject({ title: 'Synced teapot', list_price: '20.00', origin: 'catalog' });
    expect(await row('legacy', 'products', productId)).toMatchObject({ name: 'Synced teapot', price_cents: 2000, stock: 5, origin: 'catalog' });

    // An order through the monolith is placed by the orders service: stock reserved at catalog, card charged at payments.
    const viaLegacy = await api('legacy').request<{ id: string; paymentId: string }>('POST', '/api/orders', { token, body: { items: [{ productId, quantity: 2 }], card: APPROVED_CARD } });
    expect(viaLegacy.status).toBe(201);
    expect(await row('orders', 'orders', viaLegacy.body.id)).toMatchObject({ state: 'CONFIRMED', customer_id: userId, origin: 'orders' });
    expect(await row('legacy', 'orders', viaLegacy.body.id)).toMatchObject({ status: 'placed', origin: 'orders' });
    expect(await row('legacy', 'payments', viaLegacy.body.paymentId)).toBeDefined();
    expect((await api('legacy').request('GET', `/api/orders/${viaLegacy.body.id}`, { token })).status).toBe(200);
    await eventually(async () => (await row('legacy', 'payments', viaLegacy.body.paymentId))?.status === 'captured', 30_000, 'captured payment on legacy');
    await eventually(async () => (await row('legacy', 'products', productId))?.stock === 3, 30_000, 'reserved stock on legacy');

    // One placed on the orders service directly (a user the proxy sends there) reaches the monolith by sync.
    const direct = await api('orders').request<{ id: string }>('POST', '/api/orders', { token, body: { items: [{ productId, quantity: 1 }], card: APPROVED_CARD } });
    expect(direct.status).toBe(201);
    await eventually(async () => (await row('legacy', 'orders', direct.body.id))?.status === 'placed', 30_000, 'direct order on legacy');

    // Cancelling through the monolith: the owner refunds and releases; the monolith shows it at once.
    const cancelled = await api('legacy').request<{ status: string; version: number }>('POST', `/api/orders/${viaLegacy.body.id}/cancel`, { token });
    expect(cancelled.body).toMatchObject({ status: 'cancelled', version: 2 });
    expect(await row('legacy', 'orders', viaLegacy.body.id)).toMatchObject({ status: 'cancelled', version: 2 });
    expect((await api('catalog').request<{ stock: number }>('GET', `/api/products/${productId}`)).body.stock).toBe(4);
    await eventually(async () => (await row('legacy', 'products', productId))?.stock === 4, 30_000, 'released stock on legacy');
    await eventually(async () => (await row('legacy', 'payments', viaLegacy.body.paymentId))?.status === 'refunded', 30_000, 'refund on legacy');

    // No loops and one writer: the monolith published no order event; the orders service published each of its three.
    const published = (origin: string) => metricValue(test.stack.node(origin).registry, 'strangler_outbox_published_total', { aggregatetype: 'order' });
    await eventually(async () => (await published('orders')) === 3, 30_000, 'three order events published by the orders service');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect([await published('legacy'), await published('orders')]).toEqual([0, 3]);
    expect(await syncCount('legacy', { outcome: 'applied', aggregatetype: 'order' })).toBe(3);
    expect(await syncCount('legacy', { outcome: 'conflict' })).toBe(0);
  });

  it('lists in strangler-written every event a write made, through the monolith and the services it called, each applied by the monolith\'s inbox', async () => {
    const email = `written-${Date.now()}@shop.test`;
    await api('legacy').request('POST', '/api/users', { body: { email, name: 'Wren', password: 'written-password' } });
    const { token } = (await api('legacy').request<{ token: string }>('POST', '/api/users/login', { body: { email, password: 'written-password' } })).body;
    const product = await api('legacy').request<{ id: string }>('POST', '/api/products', { token, body: { sku: `WRIT-${Date.now()}`, name: 'Listed teapot', priceCents: 900, currency: 'EUR', stock: 4 } });
    const response = await fetch(`${test.stack.node('legacy').app.url}/api/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ productId: product.body.id, quantity: 1 }], card: APPROVED_CARD }),
    });
    expect(response.status).toBe(201);
    const entries = (response.headers.get('strangler-written') ?? '').split(',').map((entry) => /^(\w+):([0-9a-f-]{36})@(\w+)$/.exec(entry));
    expect(entries.every(Boolean)).toBe(true);
    // Stock reserved at the catalog, payment authorised and captured at payments, the order at the orders service.
    expect(entries.map((match) => `${match![1]}@${match![3]}`).sort()).toEqual(['order@orders', 'payment@payments', 'payment@payments', 'product@catalog']);
    // They are the ids the monolith's inbox records as it applies those events (what the proxy's wait checks).
    const ids = entries.map((match) => match![2]!);
    await eventually(async () => (await test.stack.node('legacy').app.pool.query('select 1 from inbox where event_id = any($1::uuid[])', [ids])).rowCount === ids.length, 30_000, 'every listed event in the monolith\'s inbox');
  });

  it('serialises concurrent writes to one product through both sides at its owner: two versions, both kept, no conflict', async () => {
    const email = `owner-${Date.now()}@shop.test`;
    await api('legacy').request('POST', '/api/users', { body: { email, name: 'Cy', password: 'owner-password' } });
    const { body } = await api('legacy').request<{ token: string }>('POST', '/api/users/login', { body: { email, password: 'owner-password' } });
    const token = body.token;
    const created = await api('legacy').request<{ id: string }>('POST', '/api/products', { token, body: { sku: `OWNER-${Date.now()}`, name: 'Original', priceCents: 100, currency: 'EUR', stock: 1 } });
    const id = created.body.id;
    const [viaLegacy, viaCatalog] = await Promise.all([
      api('legacy').request<{ version: number; name: string }>('PATCH', `/api/products/${id}`, { token, body: { name: 'Renamed via legacy' } }),
      api('catalog').request<{ version: number; name: string }>('PATCH', `/api/products/${id}`, { token, body: { priceCents: 250 } }),
    ]);
    expect([viaLegacy.body.version, viaCatalog.body.version].sort()).toEqual([2, 3]);
    // Both changes survive on every side: the later one was made on top of the earlier.
    const final = { name: 'Renamed via legacy', price_cents: 250, version: 3, origin: 'catalog' };
    await eventually(async () => {
      const stored = await row('legacy', 'products', id);
      return stored?.version === 3 ? stored : undefined;
    }, 30_000, 'version 3 on legacy');
    expect(await row('legacy', 'products', id)).toMatchObject(final);
    expect(await row('catalog', 'products', id)).toMatchObject({ title: final.name, list_price: '2.50', version: 3 });
    expect(await syncCount('legacy', { outcome: 'conflict' })).toBe(0);
    expect(await syncCount('catalog', { outcome: 'conflict' })).toBe(0);
  });
});
