import { Counter, Registry } from 'prom-client';
import { boundPort, serveMetrics } from '../../cli/metrics-server';

describe('the metrics server of relay, sync, rollout and verify', () => {
  it('serves /metrics and a /healthz liveness answer; anything else is a 404', async () => {
    const registry = new Registry();
    new Counter({ name: 'sfg_test_served_total', help: 'test', registers: [registry] }).inc(3);
    const server = await serveMetrics(registry, 0, '127.0.0.1');
    const base = `http://127.0.0.1:${boundPort(server, 0)}`;
    try {
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('sfg_test_served_total 3');
      const health = await fetch(`${base}/healthz`);
      expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
      expect((await fetch(`${base}/routes`)).status).toBe(404);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
