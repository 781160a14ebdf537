import type { Registry } from 'prom-client';
import { SHOP_ROUTES } from '../../case-study';
import { runTraffic } from '../../case-study/traffic';
import { eventually } from '../helpers';
import { TestStack } from './stack-fixture';

async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value)).reduce((sum, sample) => sum + sample.value, 0);
}

const ROLLOUT: Record<string, number> = { users: 50, products: 50, orders: 50, payments: 10 };
const TRAFFIC_SECONDS = Number(process.env.SFG_ANOMALY_SECONDS ?? 60);

/**
 * The demo's canary under writes, shortened: users, products and orders at 50 %, payments at 10 %, products shadowed
 * at 100 %, and shoppers who look at each order and its payment again the moment it is placed (revisitAfterMs 0),
 * often on the other side. The proxy's read-your-writes makes those reads wait for the write; the shadow counts
 * differences of versions as lag. A user sees no anomaly, and no real mismatch is found.
 */
describe('zero anomalies in a canary with writes (read-your-writes, lag-aware shadow)', () => {
  let test: TestStack;
  beforeAll(async () => {
    test = new TestStack('sfg_anomaly', { seed: true });
    await test.stack.start();
    const { stack } = test;
    for (const route of SHOP_ROUTES) await stack.flags.setRollout(stack.flagName(route.id), ROLLOUT[route.id] ?? 0);
    await stack.flags.setRollout(stack.flagName('products', 'shadow'), 100);
    await eventually(async () => {
      const response = await fetch(`${stack.adminUrl}/routes`, { headers: { authorization: `Bearer ${stack.options.adminToken}` } });
      const { routes } = (await response.json()) as { routes: Array<{ id: string; rolloutPercent: number | null }> };
      return routes.every((route) => route.rolloutPercent === ROLLOUT[route.id]);
    }, 15_000, 'the canary rollout on the proxy');
  });
  afterAll(async () => {
    await test?.stop();
  });

  it(`answers every request as intended for ${TRAFFIC_SECONDS} s of traffic that reads its own writes at once`, async () => {
    const { stack } = test;
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), TRAFFIC_SECONDS * 1_000);
    const summary = await runTraffic({ proxyUrl: stack.proxyUrl, concurrency: 8, shoppers: 40, revisitAfterMs: 0, signal: stop.signal });
    clearTimeout(timer);

    expect({ unexpected: summary.unexpected(), examples: summary.examples() }).toEqual({ unexpected: 0, examples: [] });
    expect(summary.requests()).toBeGreaterThan(500);
    const placed = [...summary.counts].filter(([key]) => key.startsWith('POST /api/orders 201')).reduce((sum, [, count]) => sum + count, 0);
    expect(placed).toBeGreaterThan(20);
    // Reads of a shopper's own fresh writes on the other side waited for them, and they arrived.
    const registry = stack.proxyRegistry;
    expect(await counter(registry, 'strangler_proxy_consistency_waits_total', { outcome: 'applied' })).toBeGreaterThan(10);
    // Products changed all along (orders take stock): the shadow found differences, and every one was lag.
    const shadow = (result: string) => counter(registry, 'strangler_proxy_shadow_comparisons_total', { route: 'products', result });
    expect(await shadow('match')).toBeGreaterThan(10);
    expect(await shadow('mismatch')).toBe(0);
  });
});
