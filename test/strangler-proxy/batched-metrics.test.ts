import { Counter, Histogram, Registry } from 'prom-client';
import { BatchedCounter, BatchedHistogram } from '../../strangler-proxy/batched-metrics';

/** The exposition's sample lines, each with its labels sorted, so two registries compare by content. */
function samples(exposition: string): string[] {
  return exposition
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.replace(/\{([^}]*)\}/, (_all, labels: string) => `{${labels.split(',').sort().join(',')}}`))
    .sort();
}

describe('batched metrics', () => {
  const buckets = [0.005, 0.01, 0.1, 1];
  const observations = [0, 0.001, 0.005, 0.0051, 0.05, 0.1, 0.5, 1, 2, 30];

  it("exposes a histogram exactly as prom-client's Histogram does for the same observations", async () => {
    const batchedRegistry = new Registry();
    const batched = new BatchedHistogram({ name: 'h_seconds', help: 'h', labelNames: ['route', 'target'], buckets, registers: [batchedRegistry] });
    const reference = new Registry();
    const histogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['route', 'target'], buckets, registers: [reference] });
    const slot = batched.slot({ route: 'orders', target: 'legacy' });
    for (const value of observations) {
      slot.observe(value);
      histogram.labels('orders', 'legacy').observe(value);
    }
    batched.slot({ route: 'orders', target: 'extracted' }).observe(0.02);
    histogram.labels('orders', 'extracted').observe(0.02);
    expect(samples(await batchedRegistry.metrics())).toEqual(samples(await reference.metrics()));
    expect(await batchedRegistry.metrics()).toContain('# TYPE h_seconds histogram');
  });

  it('hands the same labels the same series, and lists a series only once it has an observation', async () => {
    const registry = new Registry();
    const batched = new BatchedHistogram({ name: 'h_seconds', help: 'h', labelNames: ['route'], buckets, registers: [registry] });
    expect(batched.slot({ route: 'a' })).toBe(batched.slot({ route: 'a' }));
    batched.slot({ route: 'idle' });
    batched.slot({ route: 'a' }).observe(0.2);
    const exposition = await registry.metrics();
    expect(exposition).toMatch(/^h_seconds_count\{route="a"\} 1$/m);
    expect(exposition).not.toContain('idle');
    registry.resetMetrics();
    expect(await registry.metrics()).not.toMatch(/h_seconds_count/);
  });

  it('counts into a prom-client counter when it is collected, and adds what came since on the next scrape', async () => {
    const registry = new Registry();
    const batched = new BatchedCounter({ name: 'c_total', help: 'c', labelNames: ['code'], registers: [registry] });
    const ok = batched.slot({ code: '200' });
    const failed = batched.slot({ code: '500' });
    ok.pending += 3;
    failed.pending += 1;
    expect(batched.counter).toBeInstanceOf(Counter);
    const first = await registry.metrics();
    expect(first).toMatch(/^c_total\{code="200"\} 3$/m);
    expect(first).toMatch(/^c_total\{code="500"\} 1$/m);
    ok.pending += 2;
    expect(await registry.metrics()).toMatch(/^c_total\{code="200"\} 5$/m);
    expect(ok.pending).toBe(0);
  });
});
