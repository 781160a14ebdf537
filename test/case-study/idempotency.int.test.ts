import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createCatalogService } from '../../extracted/catalog';
import { createOrdersService } from '../../extracted/orders';
import { LegacyMonolith } from '../../legacy-monolith';
import { createPaymentsService } from '../../extracted/payments';
import { runMigrations } from '../../outbox';
import { createApiApp, IDEMPOTENCY_MIGRATIONS, IDEMPOTENT_REPLAY_HEADER, idempotentWrites, pruneIdempotencyKeys, type HttpApplication, type IdempotencyOptions } from '../../service-kit';
import { createTestDatabase, type TestDatabase } from '../helpers';
import { APPROVED_CARD, ApiClient, auth, silentLogger } from './fixtures';

const databases: TestDatabase[] = [];
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  for (const database of databases) await database.drop();
});

async function listen(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function database(): Promise<TestDatabase> {
  const created = await createTestDatabase('sfg_idempotency');
  databases.push(created);
  await runMigrations(created.pool, IDEMPOTENCY_MIGRATIONS);
  return created;
}

/** An owner whose POST /api/things counts its runs, takes `delayMs`, and answers `status`. */
async function owner(options: { delayMs: number; status?: number; idempotency?: IdempotencyOptions }) {
  const { pool } = await database();
  const runs = { count: 0 };
  const app = createApiApp({
    logger: silentLogger,
    registry: new Registry(),
    mount: (api) => {
      api.use(idempotentWrites(pool, options.idempotency));
      api.post(['/api/things', '/api/users'], async (req, res) => {
        runs.count += 1;
        const run = runs.count;
        await new Promise((resolve) => setTimeout(resolve, options.delayMs));
        res.status(options.status ?? 201).json({ id: '0b7c2a38-7c9a-4a51-9d37-1b7d2e3f4a5b', version: 1, run, echo: req.body });
      });
    },
  });
  return { url: await listen(app), runs, pool };
}

async function post(url: string, key: string | undefined, body: unknown = { name: 'teapot' }) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers['idempotency-key'] = key;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, replayed: response.headers.get(IDEMPOTENT_REPLAY_HEADER), body: (await response.json()) as Record<string, unknown> };
}

describe('a write sent with an idempotency-key', () => {
  it('runs once: a repeat while it runs and one after it both get its answer, marked as replayed', async () => {
    const { url, runs } = await owner({ delayMs: 300 });
    const [first, during] = await Promise.all([post(`${url}/api/things`, 'key-1'), post(`${url}/api/things`, 'key-1')]);
    const after = await post(`${url}/api/things`, 'key-1', { name: 'something else entirely' });
    expect(runs.count).toBe(1);
    const answers = [first, during, after];
    expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201]);
    expect(answers.map((answer) => answer.body)).toEqual([first.body, first.body, first.body]);
    expect(answers.map((answer) => answer.replayed).sort()).toEqual([null, 'true', 'true']);
    // Another key, or none, is another write.
    await post(`${url}/api/things`, 'key-2');
    await post(`${url}/api/things`, undefined);
    expect(runs.count).toBe(3);
  });

  it('keeps no answer of 500 or more: the write failed as a whole, and a repeat runs it again', async () => {
    const { url, runs } = await owner({ delayMs: 0, status: 503 });
    expect((await post(`${url}/api/things`, 'failing')).status).toBe(503);
    expect((await post(`${url}/api/things`, 'failing')).replayed).toBeNull();
    expect(runs.count).toBe(2);
  });

  it('answers 503 (retriable) while the first still runs after waitMs, and the answer once it is there', async () => {
    const { url, runs } = await owner({ delayMs: 600, idempotency: { waitMs: 100, pollMs: 10 } });
    const first = post(`${url}/api/things`, 'slow');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await post(`${url}/api/things`, 'slow')).toMatchObject({ status: 503, body: { error: { code: 'SFG_CASE_REQUEST_IN_PROGRESS' } } });
    const answered = await first;
    expect(await post(`${url}/api/things`, 'slow')).toMatchObject({ status: 201, replayed: 'true', body: answered.body });
    expect(runs.count).toBe(1);
  });

  it('keeps an answer for the retention only: pruned after it, a key sent again runs its request again', async () => {
    const { url, runs, pool } = await owner({ delayMs: 0 });
    await post(`${url}/api/things`, 'old');
    await post(`${url}/api/things`, 'recent');
    await pool.query("update idempotency_keys set created_at = now() - interval '25 hours' where key = 'old'");
    expect(await pruneIdempotencyKeys(pool, 24 * 60 * 60 * 1000)).toBe(1);
    expect((await pool.query('select key from idempotency_keys order by key')).rows).toEqual([{ key: 'recent' }]);
    expect((await post(`${url}/api/things`, 'recent')).replayed).toBe('true');
    expect((await post(`${url}/api/things`, 'old')).replayed).toBeNull();
    expect(runs.count).toBe(3);
  });

  it('refuses a key first used for another request (422) and a key too long (400), naming the header', async () => {
    const { url, runs } = await owner({ delayMs: 0 });
    await post(`${url}/api/things`, 'reused');
    expect(await post(`${url}/api/users`, 'reused')).toMatchObject({ status: 422, body: { error: { code: 'SFG_CASE_IDEMPOTENCY_KEY_REUSED', message: expect.stringContaining('POST /api/things') } } });
    expect(await post(`${url}/api/things`, 'k'.repeat(201))).toMatchObject({ status: 400, body: { error: { fields: [{ field: 'idempotency-key' }] } } });
    expect(runs.count).toBe(1);
  });
});

describe('an owner that answers too late', () => {
  const token = auth.issue({ id: '7b0c2a38-7c9a-4a51-9d37-1b7d2e3f4a5b', email: 'ops@shop.test' });
  const common = (databaseUrl: string) => ({ port: 0, databaseUrl, poolSize: 4, drainMs: 500 });
  async function start<T extends HttpApplication>(create: (databaseUrl: string) => T): Promise<T> {
    const created = await createTestDatabase('sfg_idempotency');
    databases.push(created);
    const app = create(created.url);
    await app.start();
    closers.push(() => app.stop());
    return app;
  }

  it("is asked again by the monolith with the same key: the client gets the write's real answer, made once", async () => {
    const slow = await owner({ delayMs: 900 });
    const registry = new Registry();
    const monolith = await start((url) => new LegacyMonolith({ ...common(url), owners: { user: slow.url }, ownerTimeoutMs: 400, replicaWaitMs: 0 }, { logger: silentLogger, registry }));
    const created = await new ApiClient(monolith.url).request<Record<string, unknown>>('POST', '/api/users', { body: { email: 'late@shop.test', name: 'Late', password: 'answers-late' } });
    expect(created).toMatchObject({ status: 201, body: { run: 1, echo: { email: 'late@shop.test' } } });
    expect(slow.runs.count).toBe(1);
    const retries = (await registry.getSingleMetric('strangler_case_delegated_write_retries_total')!.get()).values;
    expect(retries.reduce((sum, sample) => sum + sample.value, 0)).toBeGreaterThanOrEqual(1);
  });

  /** Between the orders service and the catalog: holds back the answers of the first `late` stock changes. */
  async function lateCatalog(catalogUrl: string, late: number) {
    const stockChanges = { count: 0 };
    const url = await listen(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name))) as Record<string, string>;
      const answer = await fetch(`${catalogUrl}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
      const text = await answer.text();
      if (req.method === 'POST' && req.url!.endsWith('/stock') && ++stockChanges.count <= late) await new Promise((resolve) => setTimeout(resolve, 700));
      if (res.destroyed) return;
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(text);
    });
    return { url, stockChanges };
  }

  async function shop(late: number) {
    const catalog = await start((url) => createCatalogService(common(url), { logger: silentLogger, registry: new Registry() }));
    const between = await lateCatalog(catalog.url, late);
    const payments = await start((url) => createPaymentsService(common(url), { logger: silentLogger, registry: new Registry() }));
    const registry = new Registry();
    const orders = await start((url) => createOrdersService({ ...common(url), catalogUrl: between.url, paymentsUrl: payments.url, peerTimeoutMs: 300 }, { logger: silentLogger, registry }));
    const product = await new ApiClient(catalog.url).request<{ id: string }>('POST', '/api/products', { token, body: { sku: `LATE-${late}`, name: 'Late teapot', priceCents: 500, currency: 'EUR', stock: 5 } });
    const stock = async () => (await new ApiClient(catalog.url).request<{ stock: number }>('GET', `/api/products/${product.body.id}`)).body.stock;
    return { orders, registry, productId: product.body.id, stock, stockChanges: between.stockChanges };
  }
  const counted = async (registry: Registry, labels: Record<string, string>) =>
    (await registry.getSingleMetric('strangler_case_saga_compensations_total')!.get()).values.filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value)).reduce((sum, sample) => sum + sample.value, 0);

  it('has a reservation whose answer was late sent again with its reference: the order is placed, the unit taken once', async () => {
    const { orders, productId, stock, stockChanges } = await shop(1);
    const placed = await new ApiClient(orders.url).request('POST', '/api/orders', { token, body: { items: [{ productId, quantity: 1 }], card: APPROVED_CARD } });
    expect(placed).toMatchObject({ status: 201, body: { status: 'placed' } });
    expect(stockChanges.count).toBe(2);
    expect(await stock()).toBe(4);
  });

  it('settles a reservation that never got an answer before it gives the order up: no unit stays held', async () => {
    const { orders, registry, productId, stock, stockChanges } = await shop(3);
    const placed = await new ApiClient(orders.url).request('POST', '/api/orders', { token, body: { items: [{ productId, quantity: 2 }], card: APPROVED_CARD } });
    expect(placed).toMatchObject({ status: 503, body: { error: { code: 'SFG_CASE_PEER_UNAVAILABLE' } } });
    // Three attempts, each late; then the settling one (made already: answered unchanged) and the release.
    expect(stockChanges.count).toBe(5);
    expect(await stock()).toBe(5);
    expect(await counted(registry, { step: 'settle', outcome: 'done' })).toBe(1);
    expect((await new ApiClient(orders.url).request<unknown[]>('GET', '/api/orders', { token })).body).toEqual([]);
  });
});
