import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { createProxyMetrics, RouteTargetMetrics } from '../../strangler-proxy/metrics';
import { configDigest, parseProxyConfig, workerCount } from '../../strangler-proxy/options';
import { mergeMismatches, mergeReadiness } from '../../strangler-proxy/workers';

describe('worker mode, pure parts', () => {
  it('counts workers: a number as given, auto as one per core', () => {
    expect(workerCount(3, 8)).toBe(3);
    expect(workerCount('auto', 8)).toBe(8);
    expect(workerCount('auto', 0)).toBe(1);
  });

  it('refuses a worker count that is not a positive whole number or auto, naming the field', () => {
    const base = { admin: { token: 'a-long-token' }, flags: { provider: 'file' }, clusters: { legacy: { url: 'http://127.0.0.1:1' } }, routes: [] };
    for (const workers of [0, 1.5, 'all', -2]) {
      expect(() => parseProxyConfig({ ...base, proxy: { workers } }, {})).toThrow(/proxy\.workers/);
    }
    expect(parseProxyConfig({ ...base, proxy: { workers: '${WORKERS}' } }, { WORKERS: '4' }).proxy.workers).toBe(4);
    expect(parseProxyConfig({ ...base, proxy: { workers: 'auto' } }, {}).proxy.workers).toBe('auto');
    expect(parseProxyConfig(base, {}).proxy.workers).toBe(1);
  });

  it('hands a config to a worker intact: it survives the IPC channel (JSON) with the same digest', () => {
    const config = parseProxyConfig(
      {
        admin: { token: 'a-long-token' },
        flags: { provider: 'file' },
        consistency: { enabled: true },
        clusters: { legacy: { url: 'http://127.0.0.1:1' }, orders: { url: 'http://127.0.0.1:2/base' } },
        routes: [{ id: 'orders', order: 10, match: { path: '/api/orders/{**rest}', headers: { 'X-Tenant': 'a' } }, cluster: 'orders', flag: 'f', shadow: { enabled: true } }],
      },
      {},
    );
    const copy = JSON.parse(JSON.stringify(config));
    expect(copy).toEqual(config);
    expect(configDigest(copy)).toBe(configDigest(config));
  });

  it('is ready only when every expected worker is; a cluster unhealthy in one worker is unhealthy', () => {
    const view = (ready: boolean, healthy: boolean | null, circuit: string) => ({ ready, flagsReady: ready, clusters: { legacy: { healthy: true, circuit: 'closed' }, orders: { healthy, circuit } } });
    expect(mergeReadiness([view(true, true, 'closed'), view(true, true, 'half-open')], 2)).toEqual({
      ready: true,
      flagsReady: true,
      clusters: { legacy: { healthy: true, circuit: 'closed' }, orders: { healthy: true, circuit: 'half-open' } },
      workers: { expected: 2, ready: 2 },
    });
    expect(mergeReadiness([view(true, true, 'closed'), view(true, false, 'open')], 2).clusters.orders).toEqual({ healthy: false, circuit: 'open' });
    expect(mergeReadiness([view(true, true, 'closed'), view(true, null, 'closed')], 2).clusters.orders!.healthy).toBeNull();
    // A worker being replaced does not answer: not ready, though each that answered is.
    expect(mergeReadiness([view(true, true, 'closed')], 2)).toMatchObject({ ready: false, workers: { expected: 2, ready: 1 } });
    expect(mergeReadiness([view(true, true, 'closed'), view(false, true, 'closed')], 2)).toMatchObject({ ready: false, flagsReady: false });
    expect(mergeReadiness([], 2)).toMatchObject({ ready: false, flagsReady: false });
  });

  it('lists shadow mismatches of all workers newest first', () => {
    const mismatch = (at: string, route: string) => ({ at, route, method: 'GET', path: '/', requestId: at, differences: [], primary: { target: 'legacy' as const, status: 200, body: '' }, shadow: { target: 'extracted' as const, status: 200, body: '' } });
    const merged = mergeMismatches([[mismatch('2026-12-04T10:00:02Z', 'a'), mismatch('2026-12-04T10:00:00Z', 'a')], [mismatch('2026-12-04T10:00:01Z', 'b')]]);
    expect(merged.map((entry) => entry.at)).toEqual(['2026-12-04T10:00:02Z', '2026-12-04T10:00:01Z', '2026-12-04T10:00:00Z']);
  });

  it("merges the workers' metrics: counters add up, flags are ready only everywhere, a circuit shows its most open state", async () => {
    const worker = (requests: number, flagsReady: boolean, circuit: number) => {
      const registry = new Registry();
      const metrics = createProxyMetrics(registry, { flagsReady: () => flagsReady, circuitStates: () => [{ cluster: 'orders', state: circuit }], routeRollouts: () => [{ route: 'orders', percent: 50 }], endpoints: () => [] });
      const legacy = new RouteTargetMetrics(metrics, 'orders', 'legacy');
      for (let n = 0; n < requests; n += 1) legacy.observe('GET', 200, 0.003);
      return registry.getMetricsAsJSON();
    };
    const primary = new Registry();
    new Counter({ name: 'strangler_proxy_config_reloads_total', help: 'h', labelNames: ['result'], registers: [primary], aggregator: 'max' }).labels('success').inc();
    new Gauge({ name: 'strangler_proxy_config_reload_failed', help: 'h', registers: [primary], aggregator: 'max' }).set(0);
    const merged = await AggregatorRegistry.aggregate([await primary.getMetricsAsJSON(), await worker(3, true, 0), await worker(4, false, 2)]).metrics();
    expect(merged).toMatch(/^strangler_proxy_requests_total\{route="orders",target="legacy",method="GET",code="200"\} 7$/m);
    expect(merged).toMatch(/^strangler_proxy_request_duration_seconds_bucket\{route="orders",target="legacy",le="0.0025"\} 0$/m);
    expect(merged).toMatch(/^strangler_proxy_request_duration_seconds_bucket\{route="orders",target="legacy",le="0.005"\} 7$/m);
    expect(merged).toMatch(/^strangler_proxy_request_duration_seconds_count\{route="orders",target="legacy"\} 7$/m);
    expect(merged).toMatch(/^strangler_proxy_flags_ready 0$/m);
    expect(merged).toMatch(/^strangler_proxy_circuit_state\{cluster="orders"\} 2$/m);
    expect(merged).toMatch(/^strangler_proxy_route_rollout_percent\{route="orders"\} 50$/m);
  });
});
