import type { Registry } from 'prom-client';
import { AGGREGATE_TYPES } from '../../extracted/common/aggregates';
import { AGGREGATE_OWNER } from '../../extracted/common/conflicts';
import { backfill, verify, type VerifyReport } from '../../extracted/migration';
import { runTraffic, type TrafficSummary } from '../../extracted/stack/traffic';
import { ApiClient } from './fixtures';
import { eventually, TestStack } from './stack-fixture';

async function counter(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value)).reduce((sum, sample) => sum + sample.value, 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The seed document's story, end to end on the real stack (Postgres, Kafka, Unleash, proxy, relays, sync
 * consumers), with shop traffic flowing through the proxy: all-legacy, backfill, shadow, 10/50/100 %, verify,
 * roll back, verify. Every request must succeed except the intended business errors (declined card, sold out).
 */
describe('migrating products and orders, and rolling back', () => {
  let test: TestStack;
  const traffic: { stop: AbortController; done: Promise<TrafficSummary> }[] = [];

  function startTraffic(): void {
    const stop = new AbortController();
    traffic.push({ stop, done: runTraffic({ proxyUrl: test.stack.proxyUrl, concurrency: 3, signal: stop.signal, thinkTimeMs: 200 }) });
  }
  async function stopTraffic(): Promise<TrafficSummary> {
    const current = traffic.pop()!;
    current.stop.abort();
    const summary = await current.done;
    expect({ unexpected: summary.unexpected(), examples: summary.examples() }).toEqual({ unexpected: 0, examples: [] });
    expect(summary.requests()).toBeGreaterThan(20);
    return summary;
  }
  async function setRollout(route: 'products' | 'orders', percent: number): Promise<void> {
    await test.stack.flags.setRollout(test.stack.flagName(route), percent);
  }
  async function verifyAll(): Promise<VerifyReport[]> {
    const legacy = test.stack.node('legacy').app.pool;
    const pairs = [
      ...AGGREGATE_TYPES.map((aggregateType) => ({ aggregateType, target: AGGREGATE_OWNER[aggregateType] })),
      { aggregateType: 'product' as const, target: 'orders' },
      { aggregateType: 'user' as const, target: 'orders' },
    ];
    return eventually(async () => {
      const reports = [];
      for (const { aggregateType, target } of pairs) {
        reports.push(await verify(legacy, test.stack.node(target).app.pool, { aggregateType, chunkSize: 500, maxExamples: 3 }));
      }
      return reports.every((report) => report.driftRows === 0) ? reports : undefined;
    }, 60_000, 'zero drift for every aggregate');
  }
  const extractedRequests = (route: string) => counter(test.stack.proxyRegistry, 'strangler_proxy_requests_total', { route, target: 'extracted' });

  beforeAll(async () => {
    test = new TestStack('sfg_story', { seed: true });
    await test.stack.start();
  });
  afterAll(async () => {
    for (const running of traffic) running.stop.abort();
    await Promise.all(traffic.map((running) => running.done));
    await test?.stop();
  });

  it('goes legacy -> backfill -> shadow -> 10/50/100 % -> verify -> rollback -> verify without a failed request', async () => {
    // 1. All on legacy.
    startTraffic();
    await sleep(3_000);
    expect(await extractedRequests('products')).toBe(0);

    // 2. Backfill catalogue and orders (sync has been running too: backfill copies what is missing or older).
    const legacy = test.stack.node('legacy').app.pool;
    for (const [aggregateType, target] of [['product', 'catalog'], ['product', 'orders'], ['user', 'orders'], ['order', 'orders'], ['payment', 'orders']] as const) {
      const result = await backfill(legacy, test.stack.node(target).app.pool, { aggregateType, chunkSize: 50, checkpointName: `${aggregateType}:${target}`, restart: false });
      expect(result.scanned).toBeGreaterThan(0);
      expect(result.copied + result.skipped).toBe(result.scanned);
    }
    await stopTraffic();

    // 3. Shadow reads: once sync has settled, the services answer exactly as legacy does.
    await verifyAll();
    await test.stack.flags.setRollout(test.stack.flagName('products', 'shadow'), 100);
    await test.stack.flags.setRollout(test.stack.flagName('orders', 'shadow'), 100);
    const proxy = new ApiClient(test.stack.proxyUrl);
    await eventually(async () => {
      await proxy.request('GET', '/api/products?limit=50');
      return (await counter(test.stack.proxyRegistry, 'strangler_proxy_shadow_comparisons_total', { route: 'products', result: 'match' })) >= 5;
    }, 30_000, 'shadow comparisons');
    expect(await counter(test.stack.proxyRegistry, 'strangler_proxy_shadow_comparisons_total', { result: 'mismatch' })).toBe(0);
    await test.stack.flags.setRollout(test.stack.flagName('products', 'shadow'), 0);
    await test.stack.flags.setRollout(test.stack.flagName('orders', 'shadow'), 0);

    // 4. Flip 10 -> 50 -> 100 %, orders placed and cancelled on both sides meanwhile.
    startTraffic();
    for (const percent of [10, 50, 100]) {
      await setRollout('products', percent);
      await setRollout('orders', percent);
      await sleep(4_000);
    }
    const served = await extractedRequests('orders');
    await sleep(2_000);
    expect(await extractedRequests('orders')).toBeGreaterThan(served);
    expect(await extractedRequests('products')).toBeGreaterThan(0);
    await stopTraffic();
    const ordersOnService = await test.stack.node('orders').app.pool.query(`select count(*)::int as n from outbox where type in ('OrderPlaced', 'OrderCancelled')`);
    expect(ordersOnService.rows[0].n).toBeGreaterThan(0);

    // 5. Verify: no drift for any aggregate.
    await verifyAll();

    // 6. Roll back to 0 %: everything returns to legacy, which has every write made on the new side.
    startTraffic();
    await setRollout('products', 0);
    await setRollout('orders', 0);
    await sleep(2_000);
    const afterRollback = await extractedRequests('orders');
    await sleep(3_000);
    expect(await extractedRequests('orders')).toBe(afterRollback);
    await stopTraffic();

    // 7. Verify again.
    await verifyAll();
  });
});
