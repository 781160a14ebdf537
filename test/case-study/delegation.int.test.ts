import net from 'node:net';
import { Registry } from 'prom-client';
import { LegacyMonolith, parseMonolithOptions, ReplicaWaiter, saveAggregate } from '../../legacy-monolith';
import { createCatalogService } from '../../extracted/catalog';
import { createOrdersService, ordersOptionsSchema } from '../../extracted/orders';
import { ConfigError, parseOptions, type HttpApplication } from '../../service-kit';
import { createTestDatabase, type TestDatabase } from '../helpers';
import { APPROVED_CARD, ApiClient, auth, silentLogger } from './fixtures';
import { legacyProduct, migrateSide } from './shop-data';
import { refuseSharedSchema } from '../../case-study/stack';

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function counter(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const { values } = await registry.getSingleMetric(name)!.get();
  return values.filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value)).reduce((sum, sample) => sum + sample.value, 0);
}

describe('options of the monolith and the orders service', () => {
  it('name every bad field at once, unknown keys included', () => {
    expect(() => parseMonolithOptions({ databaseUrl: 'mysql://x', owners: { product: 'not a url', widget: 'http://x' }, colour: 'red' })).toThrow(ConfigError);
    try {
      parseMonolithOptions({ databaseUrl: 'mysql://x', owners: { product: 'not a url', widget: 'http://x' }, colour: 'red' });
    } catch (error) {
      expect((error as ConfigError).problems.map((problem) => problem.field).sort()).toEqual(['colour', 'databaseUrl', 'owners.product', 'owners.widget']);
    }
    expect(() => parseOptions(ordersOptionsSchema, { databaseUrl: 'postgres://x/y', catalogUrl: 'http://catalog' })).toThrow(/paymentsUrl/);
  });

  it('refuses to delegate products or payments while the monolith still places orders itself', () => {
    expect(() => parseMonolithOptions({ databaseUrl: 'postgres://x/y', owners: { product: 'http://catalog:3102' } })).toThrow(/owners\.order: must be delegated too/);
    expect(parseMonolithOptions({ databaseUrl: 'postgres://x/y', owners: { order: 'http://o', product: 'http://c', payment: 'http://p' } }).owners).toEqual({ order: 'http://o', product: 'http://c', payment: 'http://p' });
  });
});

describe('writes through the owner when the owner or a replica is missing', () => {
  const databases: TestDatabase[] = [];
  const apps: HttpApplication[] = [];
  async function start<T extends HttpApplication>(create: (databaseUrl: string) => T): Promise<T> {
    const database = await createTestDatabase('sfg_delegation');
    databases.push(database);
    const app = create(database.url);
    apps.push(app);
    await app.start();
    return app;
  }
  afterAll(async () => {
    for (const app of apps.reverse()) await app.stop();
    for (const database of databases) await database.drop();
  });
  const common = (databaseUrl: string) => ({ port: 0, databaseUrl, poolSize: 2, drainMs: 500 });
  const token = auth.issue({ id: '7b0c2a38-7c9a-4a51-9d37-1b7d2e3f4a5b', email: 'ops@shop.test' });

  it('answers 503 naming the owner when it is down, and counts the write as unavailable', async () => {
    const registry = new Registry();
    const port = await closedPort();
    const monolith = await start((url) => new LegacyMonolith({ ...common(url), owners: { user: `http://127.0.0.1:${port}` }, ownerTimeoutMs: 1_000 }, { logger: silentLogger, registry }));
    const answer = await new ApiClient(monolith.url).request('POST', '/api/users', { body: { email: 'down@shop.test', name: 'Down', password: 'owner-is-down' } });
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: { code: 'SFG_CASE_PEER_UNAVAILABLE', message: expect.stringContaining('the owner of users') } });
    expect(await counter(registry, 'strangler_case_delegated_writes_total', { aggregatetype: 'user', outcome: 'unavailable' })).toBe(1);
    expect((await new ApiClient(monolith.url).request('GET', '/api/products')).status).toBe(200);
  });

  it("answers the owner's answer after replicaWaitMs when no sync brings the write back, and counts the timeout", async () => {
    const registry = new Registry();
    const catalog = await start((url) => createCatalogService(common(url), { logger: silentLogger, registry: new Registry() }));
    const owners = { product: catalog.url, order: 'http://127.0.0.1:1', payment: 'http://127.0.0.1:1' };
    const monolith = await start((url) => new LegacyMonolith({ ...common(url), owners, replicaWaitMs: 300 }, { logger: silentLogger, registry }));
    const started = Date.now();
    const created = await new ApiClient(monolith.url).request<{ id: string; name: string }>('POST', '/api/products', { token, body: { sku: 'NO-SYNC-1', name: 'Unsynced', priceCents: 100, currency: 'EUR', stock: 1 } });
    expect(created.status).toBe(201);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect((await new ApiClient(catalog.url).request('GET', `/api/products/${created.body.id}`)).body).toMatchObject({ name: 'Unsynced' });
    expect(await counter(registry, 'strangler_case_replica_wait_timeouts_total', { aggregatetype: 'product' })).toBe(1);
  });

  it('releases the reserved stock when the payments service is down, and answers 503', async () => {
    const registry = new Registry();
    const catalog = await start((url) => createCatalogService(common(url), { logger: silentLogger, registry: new Registry() }));
    const port = await closedPort();
    const orders = await start((url) => createOrdersService({ ...common(url), catalogUrl: catalog.url, paymentsUrl: `http://127.0.0.1:${port}`, peerTimeoutMs: 1_000 }, { logger: silentLogger, registry }));
    const product = await new ApiClient(catalog.url).request<{ id: string }>('POST', '/api/products', { token, body: { sku: 'SAGA-1', name: 'Saga teapot', priceCents: 500, currency: 'EUR', stock: 4 } });
    const placed = await new ApiClient(orders.url).request('POST', '/api/orders', { token, body: { items: [{ productId: product.body.id, quantity: 3 }], card: APPROVED_CARD } });
    expect(placed.status).toBe(503);
    expect(placed.body).toMatchObject({ error: { code: 'SFG_CASE_PEER_UNAVAILABLE' } });
    expect((await new ApiClient(catalog.url).request<{ stock: number }>('GET', `/api/products/${product.body.id}`)).body.stock).toBe(4);
    expect(await counter(registry, 'strangler_case_saga_compensations_total', { step: 'release', outcome: 'done' })).toBe(1);
    expect((await new ApiClient(orders.url).request<unknown[]>('GET', '/api/orders', { token })).body).toEqual([]);
  });
});

describe("the monolith's replica waiter", () => {
  let database: TestDatabase;
  let waiter: ReplicaWaiter;
  const product = () => legacyProduct();

  beforeAll(async () => {
    database = await createTestDatabase('sfg_replica_wait');
    await migrateSide(database.pool, 'legacy');
    waiter = new ReplicaWaiter(database.url, database.pool, silentLogger);
    await waiter.start();
  });
  afterAll(async () => {
    await waiter?.stop();
    await database?.drop();
  });

  it('wakes when the sync consumer writes the replica, and gives up after its bound when nothing comes', async () => {
    const arriving = product();
    const waiting = waiter.waitFor('products', arriving.id, 2, 5_000);
    await saveAggregate(database.pool, 'product', arriving, 'catalog');
    await saveAggregate(database.pool, 'product', { ...arriving, version: 2 }, 'catalog');
    expect(await waiting).toBe(true);
    const started = Date.now();
    expect(await waiter.waitFor('products', product().id, 1, 300)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('still sees replicas arrive after its LISTEN connection is killed', async () => {
    await database.pool.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen%'");
    const arriving = product();
    const waiting = waiter.waitFor('products', arriving.id, 1, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await saveAggregate(database.pool, 'product', arriving, 'catalog');
    expect(await waiting).toBe(true);
  });
});

describe('a service database from before the services had schemas of their own', () => {
  it('is refused with what to drop, and a new or own-schema database is accepted', async () => {
    const database = await createTestDatabase('sfg_old_layout');
    try {
      await expect(refuseSharedSchema(database.url, database.name)).resolves.toBeUndefined();
      await migrateSide(database.pool, 'catalog');
      await expect(refuseSharedSchema(database.url, database.name)).resolves.toBeUndefined();
      await database.pool.query("insert into strangler_migrations (id) values ('shop_001_aggregates')");
      await expect(refuseSharedSchema(database.url, database.name)).rejects.toThrow(`drop it (dropdb ${database.name})`);
    } finally {
      await database.drop();
    }
  });
});
