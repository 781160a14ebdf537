import http from 'node:http';
import { Counter, Registry } from 'prom-client';
import { registerScrapeTargets, waitForSeries } from '../helpers';

describe('real Prometheus', () => {
  it('scrapes a prom-client endpoint and answers PromQL over the HTTP API', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'strangler_smoke_total', help: 'smoke test counter', labelNames: ['side'], registers: [registry] });
    counter.inc({ side: 'legacy' }, 3);
    const server = http.createServer(async (_req, res) => {
      res.setHeader('content-type', registry.contentType);
      res.end(await registry.metrics());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const { testrun, unregister } = registerScrapeTargets([`127.0.0.1:${port}`]);
    try {
      const series = await waitForSeries(`strangler_smoke_total{testrun="${testrun}"}`, 60_000);
      expect(series).toHaveLength(1);
      expect(series[0]!.metric.side).toBe('legacy');
      expect(Number(series[0]!.value[1])).toBe(3);
    } finally {
      unregister();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
