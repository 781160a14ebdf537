import type { Registry } from 'prom-client';
import { AGGREGATE_TYPES, saveAggregate } from '../../legacy-monolith';
import { ownerOf } from '../../case-study/mapping';
import type { VerifyReport } from '../../sync';
import { backfillAggregate, verifyAggregate } from './mapping-helpers';
import { runTraffic, type TrafficMix, type TrafficSummary } from '../../case-study/traffic';
import { eventually } from '../helpers';
import { APPROVED_CARD, ApiClient } from './fixtures';
import { legacyProduct } from './shop-data';
import { TestStack } from './stack-fixture';

async function counter(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value)).reduce((sum, sample) => sum + sample.value, 0);
}


/**
 * The seed document's story, end to end on the real stack (Postgres, Kafka, Unleash, proxy, relays, sync
 * consumers): data from before the extraction, backfill and verify, then shop traffic through the proxy the whole
 * time: all-legacy, shadow, 10/50/100 % (with orders racing for the last units of one product from both sides),
 * verify, roll back, verify. Every request must succeed except the intended business errors (declined card, sold
 * out), and no accepted write may be lost: no conflict, no dead letter, stock = initial - accepted reservations.
 */
describe('migrating products and orders, and rolling back', () => {
  let test: TestStack;
  const stopTraffic = new AbortController();
  let traffic: Promise<TrafficSummary> | undefined;
  // Shoppers' writes; the shadow and verify phases browse only (see below).
  const WRITING = { orderShare: 0.5, cancelShare: 0.3 };
  const BROWSING = { orderShare: 0, cancelShare: 0 };
  const mix: TrafficMix = { ...WRITING };

  const setRollout = (flag: string, percent: number) => test.stack.flags.setRollout(flag, percent);
  /** Sets both routes' rollout and waits until the proxy itself reports it: flags reach it by polling Unleash. */
  const rollOut = async (percent: number) => {
    for (const route of ['products', 'orders'] as const) await setRollout(test.stack.flagName(route), percent);
    await eventually(async () => {
      const response = await fetch(`${test.stack.adminUrl}/routes`, { headers: { authorization: `Bearer ${test.stack.options.adminToken}` } });
      const { routes } = (await response.json()) as { routes: Array<{ id: string; rolloutPercent: number | null }> };
      return ['products', 'orders'].every((id) => routes.find((route) => route.id === id)?.rolloutPercent === percent);
    }, 15_000, `the proxy serving products and orders at ${percent} %`);
  };
  const proxyCount = (name: string, labels: Record<string, string>) => counter(test.stack.proxyRegistry, name, labels);
  const extractedRequests = (route: string) => proxyCount('strangler_proxy_requests_total', { route, target: 'extracted' });
  const legacyRequests = (route: string) => proxyCount('strangler_proxy_requests_total', { route, target: 'legacy' });
  const requestsServed = (route: string) => proxyCount('strangler_proxy_requests_total', { route });
  /** Once legacy served `count` more of the route's requests than now. */
  const legacyServes = async (route: string, count: number) => {
    const from = await legacyRequests(route);
    await eventually(async () => (await legacyRequests(route)) >= from + count, 30_000, `${count} more ${route} requests on legacy`);
  };
  const eventsWrittenOn = async (origin: string, type: string) =>
    (await test.stack.node(origin).app.pool.query(`select count(*)::int as n from outbox where type = $1`, [type])).rows[0].n as number;
  /** Accepted writes every side lost or gave up on: conflicts resolved by discarding one, and dead letters. */
  const lostWrites = async () => {
    let total = 0;
    for (const node of test.stack.nodes) {
      total += await counter(node.registry, 'strangler_sync_events_total', { outcome: 'conflict' });
      total += await counter(node.registry, 'strangler_outbox_dlq_total', {});
    }
    return total;
  };

  /** Legacy against the owner of every aggregate, until all are clean. */
  async function verifyAll(): Promise<VerifyReport[]> {
    const legacy = test.stack.node('legacy').app.pool;
    const pairs = AGGREGATE_TYPES.map((aggregateType) => ({ aggregateType, target: ownerOf(aggregateType) }));
    let last: VerifyReport[] = [];
    try {
      return await eventually(async () => {
        last = [];
        for (const { aggregateType, target } of pairs) {
          last.push(await verifyAggregate(legacy, test.stack.node(target).app.pool, aggregateType, { chunkSize: 500, maxExamples: 3 }));
        }
        return last.every((report) => report.driftRows === 0) ? last : undefined;
      }, 60_000, 'zero drift for every aggregate');
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${JSON.stringify(last.filter((report) => report.driftRows > 0), null, 2)}`);
    }
  }

  beforeAll(async () => {
    test = new TestStack('sfg_story', { seed: true });
    await test.stack.start();
  });
  afterAll(async () => {
    stopTraffic.abort();
    await traffic;
    await test?.stop();
  });

  it('goes legacy -> backfill -> shadow -> 10/50/100 % -> verify -> rollback -> verify without a failed request or a lost write', async () => {
    const { stack } = test;
    const legacy = stack.node('legacy').app.pool;

    // 0. Products from before the extraction: in the monolith's tables only, never an event.
    const older = Array.from({ length: 10 }, (_, index) => legacyProduct({ name: `Heirloom teapot ${index}`, stock: 500 }));
    for (const product of older) await saveAggregate(legacy, 'product', product, 'legacy');
    const before = await verifyAggregate(legacy, stack.node('catalog').app.pool, 'product', { chunkSize: 500, maxExamples: 0 });
    expect(before.counts.missingInTarget).toBe(older.length);

    // 1. Backfill every aggregate into its owner, then verify.
    for (const aggregateType of AGGREGATE_TYPES) {
      const result = await backfillAggregate(legacy, stack.node(ownerOf(aggregateType)).app.pool, aggregateType, { chunkSize: 50, checkpointName: `${aggregateType}:story`, restart: false });
      expect(result.copied + result.skipped).toBe(result.scanned);
      if (aggregateType === 'product') expect(result.copied).toBe(older.length);
    }
    await verifyAll();

    // 2. All on legacy, traffic flowing: the monolith sends every write to its owner.
    traffic = runTraffic({ proxyUrl: stack.proxyUrl, concurrency: 3, shoppers: 3, signal: stopTraffic.signal, thinkTimeMs: 200, mix });
    await eventually(async () => (await eventsWrittenOn('orders', 'OrderPlaced')) > 0, 30_000, 'an order placed through legacy');
    // The order is committed at its owner before the monolith answers and the proxy counts the request.
    await eventually(async () => (await proxyCount('strangler_proxy_requests_total', { route: 'orders', target: 'legacy' })) > 0, 10_000, 'order requests answered by legacy');
    expect(await extractedRequests('products')).toBe(0);
    expect(await eventsWrittenOn('legacy', 'OrderPlaced')).toBe(0);

    // 3. Shadow reads. Shadowing compares live answers, so while orders keep changing stock a read can race a
    // sync event; the shadow phase therefore browses only (reads keep flowing), once sync has settled.
    Object.assign(mix, BROWSING);
    await verifyAll();
    await setRollout(stack.flagName('products', 'shadow'), 100);
    await setRollout(stack.flagName('orders', 'shadow'), 100);
    await eventually(async () => (await proxyCount('strangler_proxy_shadow_comparisons_total', { route: 'products', result: 'match' })) >= 10, 30_000, 'product shadow comparisons');
    await eventually(async () => (await proxyCount('strangler_proxy_shadow_comparisons_total', { route: 'orders', result: 'match' })) >= 5, 30_000, 'order shadow comparisons');
    await setRollout(stack.flagName('products', 'shadow'), 0);
    await setRollout(stack.flagName('orders', 'shadow'), 0);
    if (await proxyCount('strangler_proxy_shadow_comparisons_total', { result: 'mismatch' })) {
      const response = await fetch(`${stack.adminUrl}/shadow/mismatches`, { headers: { authorization: `Bearer ${stack.options.adminToken}` } });
      throw new Error(`shadow mismatches: ${await response.text()}`);
    }
    expect(await proxyCount('strangler_proxy_shadow_comparisons_total', { result: 'error' })).toBe(0);

    // 4. Flip 10 -> 50 -> 100 %, orders placed and cancelled on both sides meanwhile.
    Object.assign(mix, WRITING);
    for (const percent of [10, 50, 100]) {
      await rollOut(percent);
      if (percent === 50) {
        mix.restock = false;
        await raceForTheLastUnits();
        mix.restock = true;
      }
      // Traffic at this step: some forty order requests, whichever side serves them.
      const atStep = await requestsServed('orders');
      await eventually(async () => (await requestsServed('orders')) >= atStep + 40, 30_000, `order requests at ${percent} %`);
    }
    const served = await extractedRequests('orders');
    await eventually(async () => (await extractedRequests('orders')) > served, 30_000, 'more order requests on the extracted side');
    expect(await extractedRequests('products')).toBeGreaterThan(0);
    await eventually(async () => (await eventsWrittenOn('orders', 'OrderCancelled')) > 0, 30_000, 'orders cancelled');

    // 5. Verify: no drift for any aggregate (reads only while comparing, so sync can settle).
    Object.assign(mix, BROWSING);
    await verifyAll();

    // 6. Roll back to 0 %: everything returns to legacy, which keeps sending writes to the owners.
    Object.assign(mix, WRITING);
    await rollOut(0);
    // Requests already in flight when the proxy took the new flags may still finish on the new side: wait until
    // the new side's count held still while legacy served twenty order requests.
    let lastExtracted = await extractedRequests('orders');
    let legacyAtLastChange = await legacyRequests('orders');
    const afterRollback = await eventually(
      async () => {
        const [extracted, legacy] = [await extractedRequests('orders'), await legacyRequests('orders')];
        if (extracted !== lastExtracted) [lastExtracted, legacyAtLastChange] = [extracted, legacy];
        return legacy - legacyAtLastChange >= 20 ? { extracted } : undefined;
      },
      30_000,
      'no order request on the new side while legacy serves twenty',
    );
    const placed = await eventsWrittenOn('orders', 'OrderPlaced');
    await eventually(async () => (await eventsWrittenOn('orders', 'OrderPlaced')) > placed, 30_000, 'orders placed through legacy after the rollback');
    // And still nothing on the new side after a hundred more.
    await legacyServes('orders', 100);
    expect(await extractedRequests('orders')).toBe(afterRollback.extracted);

    // 7. Verify again; nothing was discarded anywhere.
    Object.assign(mix, BROWSING);
    await verifyAll();
    expect(await lostWrites()).toBe(0);

    stopTraffic.abort();
    const summary = await traffic;
    expect({ unexpected: summary.unexpected(), examples: summary.examples() }).toEqual({ unexpected: 0, examples: [] });
    expect(summary.requests()).toBeGreaterThan(200);
  });

  /**
   * At 50 %, 30 orders for one unit each race for a product with 20 in stock: half through the monolith, half on
   * the orders service. Both go to the one owner of stock, so exactly 20 are accepted, 10 are refused at once
   * (409), and every side ends with stock 0 = 20 - 20 accepted reservations.
   */
  async function raceForTheLastUnits(): Promise<void> {
    const { stack } = test;
    const shopper = new ApiClient(stack.node('legacy').app.url);
    const email = `racer-${Date.now()}@shop.test`;
    await shopper.request('POST', '/api/users', { body: { email, name: 'Racer', password: 'race-password' } });
    const { token } = (await shopper.request<{ token: string }>('POST', '/api/users/login', { body: { email, password: 'race-password' } })).body;
    const created = await shopper.request<{ id: string }>('POST', '/api/products', { token, body: { sku: `LAST-${Date.now()}`, name: 'Last teapots', priceCents: 900, currency: 'EUR', stock: 20 } });
    const productId = created.body.id;
    const sides = [stack.node('legacy').app.url, stack.node('orders').app.url].map((url) => new ApiClient(url));
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, index) => sides[index % 2]!.request('POST', '/api/orders', { token, body: { items: [{ productId, quantity: 1 }], card: APPROVED_CARD } })),
    );
    const statuses = answers.map((answer) => answer.status);
    const other = answers.filter((answer) => answer.status !== 201 && answer.status !== 409).map((answer) => ({ status: answer.status, body: answer.body }));
    expect({ accepted: statuses.filter((status) => status === 201).length, soldOut: statuses.filter((status) => status === 409).length, other }).toEqual({ accepted: 20, soldOut: 10, other: [] });
    const stockOn = async (origin: 'legacy' | 'catalog') =>
      (await stack.node(origin).app.pool.query(origin === 'legacy' ? 'select stock as n from products where id = $1' : 'select on_hand as n from stock_levels where product_id = $1', [productId])).rows[0].n as number;
    expect(await stockOn('catalog')).toBe(0);
    await eventually(async () => (await stockOn('legacy')) === 0, 30_000, 'stock 0 on legacy');
  }
});
