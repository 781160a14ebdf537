import http from 'node:http';
import { Gauge, Registry } from 'prom-client';
import { analyse, parseRolloutPlan, prometheusQuery, type Analysis } from '../../rollout';
import { createProxyMetrics, RouteTargetMetrics } from '../../strangler-proxy/metrics';
import { eventually, registerScrapeTargets, testEnv } from '../helpers';

describe('rollout analysis on the real Prometheus', () => {
  it("passes a healthy new side on the proxy's own series, fails it once 5 % of its requests fail", async () => {
    const registry = new Registry();
    const metrics = createProxyMetrics(registry, { flagsReady: () => true, circuitStates: () => [], routeRollouts: () => [], endpoints: () => [] });
    const sides = { extracted: new RouteTargetMetrics(metrics, 'orders', 'extracted'), legacy: new RouteTargetMetrics(metrics, 'orders', 'legacy') };
    const lag = new Gauge({ name: 'strangler_outbox_lag_seconds', help: 'lag', labelNames: ['relay'], registers: [registry] });
    lag.labels('rollout-analysis').set(0.05);
    const drift = new Gauge({ name: 'strangler_sync_drift_rows', help: 'drift', labelNames: ['aggregatetype'], registers: [registry] });
    drift.labels('rollout-analysis-order').set(0);
    const server = http.createServer(async (_req, res) => {
      res.setHeader('content-type', registry.contentType);
      res.end(await registry.metrics());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const { testrun, unregister } = registerScrapeTargets([`127.0.0.1:${port}`], { __scrape_interval__: '1s', __scrape_timeout__: '1s' });

    let failingShare = 0;
    let sent = 0;
    const traffic = setInterval(() => {
      for (let n = 0; n < 5; n += 1) {
        sent += 1;
        // Every twentieth request fails once failingShare is 5 %: exact, not random.
        sides.extracted.observe('GET', failingShare && sent % Math.round(1 / failingShare) === 0 ? 503 : 200, 0.02);
        sides.legacy.observe('GET', 200, 0.025);
      }
    }, 20);
    const plan = parseRolloutPlan({
      route: 'orders',
      flag: 'strangler.orders',
      steps: [25, 100],
      stepDuration: '1m',
      analysisInterval: '10s',
      minRequests: 200,
      selector: `testrun="${testrun}"`,
      checks: { syncLag: { relays: ['rollout-analysis'] }, driftRows: { aggregateTypes: ['rollout-analysis-order'] } },
    });
    const query = prometheusQuery(testEnv().prometheusUrl);
    let last: Analysis | undefined;
    const outcome = async () => {
      last = await analyse(plan, 25, query);
      return last;
    };
    try {
      const healthy = await eventually(async () => ((await outcome()).result === 'pass' ? last : undefined), 60_000, 'a passing analysis', 1_000);
      expect(healthy.checks.find((check) => check.check === 'errorRatio')).toMatchObject({ value: 0 });
      expect(healthy.checks.find((check) => check.check === 'traffic')!.value).toBeGreaterThan(200);
      // The histogram's p99 of 20 ms samples lands in the bucket up to 25 ms, legacy's in the one up to 50 ms.
      expect(healthy.checks.find((check) => check.check === 'p99Latency')!.value).toBeLessThanOrEqual(0.025);

      failingShare = 0.05;
      const failing = await eventually(async () => ((await outcome()).result === 'fail' ? last : undefined), 30_000, 'a failing analysis', 1_000);
      const errorRatio = failing.checks.find((check) => check.check === 'errorRatio')!;
      expect(errorRatio.result).toBe('fail');
      expect(errorRatio.value).toBeGreaterThan(0.005);
    } catch (error) {
      throw new Error(`${(error as Error).message}; last analysis: ${JSON.stringify(last?.checks)}`);
    } finally {
      clearInterval(traffic);
      unregister();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
