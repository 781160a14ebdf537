import type { Registry } from 'prom-client';
import { AGGREGATE_TYPES } from '../../legacy-monolith';
import { ownerOf } from '../../case-study/mapping';
import type { VerifyReport } from '../../sync';
import { backfillAggregate, verifyAggregate } from './mapping-helpers';
import { runTraffic, type TrafficSummary } from '../../case-study/traffic';
import { eventually } from '../helpers';
import { TestStack } from './stack-fixture';

async function counter(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value)).reduce((sum, sample) => sum + sample.value, 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The seed document's story, end to end on the real stack (Postgres, Kafka, Unleash, proxy, relays, sync
 * consumers), with shop traffic flowing through the proxy the whole time: all-legacy, backfill, shadow,
 * 10/50/100 %, verify, roll back, verify. Every request must succeed except the intended business errors
 * (declined card, sold out).
 */
describe('migrating products and orders, and rolling back', () => {
  let test: TestStack;
  const stopTraffic = new AbortController();
  let traffic: Promise<TrafficSummary> | undefined;
  // Shoppers' writes; the shadow and verify phases browse only (see below).
  const WRITING = { orderShare: 0.5, cancelShare: 0.3 };
  const BROWSING = { orderShare: 0, cancelShare: 0 };
  const mix = { ...WRITING };

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
  const ordersWrittenOn = async (origin: string, type: string) =>
    (await test.stack.node(origin).app.pool.query(`select count(*)::int as n from outbox where type = $1`, [type])).rows[0].n as number;

  /** Legacy against the owner of every aggregate, and against the orders service's replicas, until all are clean. */
  async function verifyAll(): Promise<VerifyReport[]> {
    const legacy = test.stack.node('legacy').app.pool;
    const pairs = [
      ...AGGREGATE_TYPES.map((aggregateType) => ({ aggregateType, target: ownerOf(aggregateType) })),
      { aggregateType: 'product' as const, target: 'orders' },
      { aggregateType: 'user' as const, target: 'orders' },
    ];
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

  it('goes legacy -> backfill -> shadow -> 10/50/100 % -> verify -> rollback -> verify without a failed request', async () => {
    const { stack } = test;
    // 1. All on legacy, traffic flowing.
    traffic = runTraffic({ proxyUrl: stack.proxyUrl, concurrency: 3, shoppers: 3, signal: stopTraffic.signal, thinkTimeMs: 200, mix });
    // Until orders exist on legacy, backfilling them would copy nothing.
    await eventually(async () => (await ordersWrittenOn('legacy', 'OrderPlaced')) > 0, 30_000, 'an order placed on legacy');
    expect(await proxyCount('strangler_proxy_requests_total', { route: 'orders', target: 'legacy' })).toBeGreaterThan(0);
    expect(await extractedRequests('products')).toBe(0);

    // 2. Backfill catalogue and orders, and the orders service's replicas, while writes continue.
    const legacy = stack.node('legacy').app.pool;
    for (const [aggregateType, target] of [['product', 'catalog'], ['product', 'orders'], ['user', 'orders'], ['order', 'orders'], ['payment', 'orders']] as const) {
      const result = await backfillAggregate(legacy, stack.node(target).app.pool, aggregateType, { chunkSize: 50, checkpointName: `${aggregateType}:${target}`, restart: false });
      expect(result.scanned).toBeGreaterThan(0);
      expect(result.copied + result.skipped).toBe(result.scanned);
    }

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
    const before = { placed: await ordersWrittenOn('legacy', 'OrderPlaced'), cancelled: await ordersWrittenOn('legacy', 'OrderCancelled') };
    for (const percent of [10, 50, 100]) {
      await rollOut(percent);
      await sleep(3_000); // traffic at this step
    }
    const served = await extractedRequests('orders');
    await eventually(async () => (await extractedRequests('orders')) > served, 30_000, 'more order requests on the extracted side');
    expect(await extractedRequests('products')).toBeGreaterThan(0);
    await eventually(
      async () => (await ordersWrittenOn('orders', 'OrderPlaced')) > 0 && (await ordersWrittenOn('orders', 'OrderCancelled')) > 0,
      30_000,
      'orders placed and cancelled on the orders service',
    );
    expect(await ordersWrittenOn('legacy', 'OrderPlaced')).toBeGreaterThan(before.placed);

    // 5. Verify: no drift for any aggregate (reads only while comparing, so sync can settle).
    Object.assign(mix, BROWSING);
    await verifyAll();

    // 6. Roll back to 0 %: everything returns to legacy, which has every write made on the new side.
    Object.assign(mix, WRITING);
    await rollOut(0);
    // Requests already in flight when the proxy took the new flags may still finish on the new side.
    await sleep(500);
    const afterRollback = await extractedRequests('orders');
    const placedOnLegacy = await ordersWrittenOn('legacy', 'OrderPlaced');
    await eventually(async () => (await ordersWrittenOn('legacy', 'OrderPlaced')) > placedOnLegacy, 30_000, 'orders placed on legacy after the rollback');
    await sleep(2_000); // and still nothing on the new side
    expect(await extractedRequests('orders')).toBe(afterRollback);

    // 7. Verify again.
    Object.assign(mix, BROWSING);
    await verifyAll();

    stopTraffic.abort();
    const summary = await traffic;
    expect({ unexpected: summary.unexpected(), examples: summary.examples() }).toEqual({ unexpected: 0, examples: [] });
    expect(summary.requests()).toBeGreaterThan(200);
  });
});
