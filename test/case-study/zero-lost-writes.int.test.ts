import type { Registry } from 'prom-client';
import { AGGREGATE_TYPES } from '../../legacy-monolith';
import { ownerOf } from '../../case-study/mapping';
import { SHOP_ROUTES } from '../../case-study';
import { verifyAggregate } from './mapping-helpers';
import { eventually } from '../helpers';
import { APPROVED_CARD, ApiClient, type ApiResponse } from './fixtures';
import { TestStack } from './stack-fixture';

async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value)).reduce((sum, sample) => sum + sample.value, 0);
}

const count = (answers: ApiResponse[], status: number) => answers.filter((answer) => answer.status === status).length;

/**
 * Every route at 50 %, and writes that conflict, made at the same moment on both sides (through the proxy, and
 * straight to the monolith and to the service): stock reservations for one product, one email registered twice,
 * an order cancelled on one side while its payment is refunded on the other. Each aggregate has one writer, its
 * owner, so each race is decided there at once; nothing accepted is discarded later.
 */
describe('zero lost writes at 50 % with conflicting writes on both sides', () => {
  let test: TestStack;
  const side = (origin: string) => new ApiClient(test.stack.node(origin).app.url);
  const proxy = () => new ApiClient(test.stack.proxyUrl);
  let token = '';

  async function shopper(api: ApiClient, name: string): Promise<string> {
    const email = `${name}-${Date.now()}-${Math.random().toString(36).slice(2)}@shop.test`;
    const registered = await api.request('POST', '/api/users', { body: { email, name, password: 'no-lost-writes' } });
    if (registered.status !== 201) throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`);
    return (await api.request<{ token: string }>('POST', '/api/users/login', { body: { email, password: 'no-lost-writes' } })).body.token;
  }

  const stockOn = async (origin: 'legacy' | 'catalog', productId: string) =>
    (await test.stack.node(origin).app.pool.query(origin === 'legacy' ? 'select stock as n from products where id = $1' : 'select on_hand as n from stock_levels where product_id = $1', [productId])).rows[0].n as number;
  const stockEverywhere = (productId: string, expected: number) =>
    eventually(async () => (await stockOn('catalog', productId)) === expected && (await stockOn('legacy', productId)) === expected, 30_000, `stock ${expected} on catalog and legacy`);

  async function newProduct(stock: number): Promise<string> {
    const created = await side('legacy').request<{ id: string }>('POST', '/api/products', { token, body: { sku: `RACE-${Date.now()}-${Math.floor(Math.random() * 1e6)}`, name: 'Raced teapot', priceCents: 700, currency: 'EUR', stock } });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  beforeAll(async () => {
    test = new TestStack('sfg_nolost');
    await test.stack.start();
    for (const route of SHOP_ROUTES) await test.stack.flags.setRollout(test.stack.flagName(route.id), 50);
    await eventually(async () => {
      const response = await fetch(`${test.stack.adminUrl}/routes`, { headers: { authorization: `Bearer ${test.stack.options.adminToken}` } });
      const { routes } = (await response.json()) as { routes: Array<{ rolloutPercent: number | null }> };
      return routes.every((route) => route.rolloutPercent === 50);
    }, 15_000, 'every route at 50 % on the proxy');
    token = await shopper(side('legacy'), 'owner');
  });
  afterAll(async () => {
    await test?.stop();
  });

  it('accepts exactly as many reservations as there is stock, whichever side takes them, and releases each cancelled one once', async () => {
    const productId = await newProduct(25);
    // 20 shoppers ordering through the proxy (split between the sides by the flag), plus 10 orders straight to each side.
    const shoppers = await Promise.all(Array.from({ length: 20 }, (_, index) => shopper(side(index % 2 ? 'users' : 'legacy'), `racer${index}`)));
    const attempts = [
      ...shoppers.map((shopperToken) => ({ api: proxy(), token: shopperToken })),
      ...Array.from({ length: 10 }, (_, index) => ({ api: side(index % 2 ? 'orders' : 'legacy'), token })),
    ];
    const order = (attempt: { api: ApiClient; token: string }) =>
      attempt.api.request<{ id: string; status: string }>('POST', '/api/orders', { token: attempt.token, body: { items: [{ productId, quantity: 1 }], card: APPROVED_CARD } });
    const answers = await Promise.all(attempts.map(order));
    expect({ accepted: count(answers, 201), soldOut: count(answers, 409), other: answers.length - count(answers, 201) - count(answers, 409) }).toEqual({ accepted: 25, soldOut: 5, other: 0 });
    expect(await counter(test.stack.proxyRegistry, 'strangler_proxy_requests_total', { route: 'orders', target: 'legacy' })).toBeGreaterThan(0);
    expect(await counter(test.stack.proxyRegistry, 'strangler_proxy_requests_total', { route: 'orders', target: 'extracted' })).toBeGreaterThan(0);
    await stockEverywhere(productId, 0);

    // Five of my orders, each cancelled on both sides at once: one cancel wins, the other is refused (409).
    const mine = answers.slice(shoppers.length).filter((answer) => answer.status === 201).slice(0, 5);
    expect(mine).toHaveLength(5);
    const cancels = await Promise.all(mine.flatMap((placed) => ['legacy', 'orders'].map((origin) => side(origin).request('POST', `/api/orders/${placed.body.id}/cancel`, { token }))));
    expect({ cancelled: count(cancels, 200), refused: count(cancels, 409) }).toEqual({ cancelled: 5, refused: 5 });
    await stockEverywhere(productId, 5);
  });

  it('refuses the same email registered on both sides at once on one side, at once, and keeps one account everywhere', async () => {
    for (let round = 0; round < 5; round += 1) {
      const email = `twice-${round}-${Date.now()}@shop.test`;
      const answers = await Promise.all(['legacy', 'users'].map((origin) => side(origin).request('POST', '/api/users', { body: { email, name: `Twin ${round}`, password: 'same-email-twice' } })));
      expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409]);
      expect(answers.find((answer) => answer.status === 409)!.body).toMatchObject({ error: { code: 'SFG_CASE_DUPLICATE' } });
      const rows = async (origin: string, table: string) => (await test.stack.node(origin).app.pool.query(`select id from ${table} where email = $1`, [email])).rows;
      expect(await rows('users', 'accounts')).toHaveLength(1);
      await eventually(async () => (await rows('legacy', 'users')).length === 1, 30_000, 'the account on legacy');
      expect((await rows('legacy', 'users'))[0].id).toBe((await rows('users', 'accounts'))[0].id);
    }
  });

  it('cancels an order on one side while its payment is refunded on the other: cancelled, refunded once, stock released once', async () => {
    const productId = await newProduct(10);
    for (let round = 0; round < 3; round += 1) {
      const placed = await side('orders').request<{ id: string; paymentId: string }>('POST', '/api/orders', { token, body: { items: [{ productId, quantity: 2 }], card: APPROVED_CARD } });
      expect(placed.status).toBe(201);
      const [cancel, refund] = await Promise.all([
        side('legacy').request<{ status: string }>('POST', `/api/orders/${placed.body.id}/cancel`, { token }),
        side('payments').request<{ status: string }>('POST', `/api/payments/${placed.body.paymentId}/refund`, { token }),
      ]);
      // The cancel always succeeds (a payment someone already refunded counts as refunded); the refund succeeds
      // unless the cancel's own refund came first, and then it is refused, not applied twice.
      expect(cancel.body).toMatchObject({ status: 'cancelled' });
      expect([200, 409]).toContain(refund.status);
      const status = async (origin: string, table: string, id: string, column = 'status') => (await test.stack.node(origin).app.pool.query(`select ${column} as s from ${table} where id = $1`, [id])).rows[0]?.s;
      expect(await status('orders', 'orders', placed.body.id, 'state')).toBe('CANCELLED');
      expect(await status('payments', 'payments', placed.body.paymentId)).toBe('refunded');
      await eventually(async () => (await status('legacy', 'orders', placed.body.id)) === 'cancelled' && (await status('legacy', 'payments', placed.body.paymentId)) === 'refunded', 30_000, 'cancel and refund on legacy');
      await stockEverywhere(productId, 10);
    }
  });

  it('ends with no conflict, no dead letter and no drift on any side', async () => {
    const legacy = test.stack.node('legacy').app.pool;
    await eventually(async () => {
      for (const aggregateType of AGGREGATE_TYPES) {
        const report = await verifyAggregate(legacy, test.stack.node(ownerOf(aggregateType)).app.pool, aggregateType, { chunkSize: 500, maxExamples: 0 });
        if (report.driftRows > 0) return false;
      }
      return true;
    }, 30_000, 'zero drift for every aggregate');
    for (const node of test.stack.nodes) {
      expect({ node: node.origin, conflicts: await counter(node.registry, 'strangler_sync_events_total', { outcome: 'conflict' }), deadLetters: await counter(node.registry, 'strangler_outbox_dlq_total') }).toEqual({ node: node.origin, conflicts: 0, deadLetters: 0 });
    }
    expect(await counter(test.stack.node('legacy').registry, 'strangler_sync_events_total', { outcome: 'applied' })).toBeGreaterThan(50);
  });
});
