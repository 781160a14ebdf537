import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileFlagProvider } from '../../strangler-proxy';
import { eventually } from '../helpers';
import { request, sideOf, silentLogger, startProxy, Upstream, type RunningProxy } from './harness';

/**
 * A cluster of several endpoints (instances of one service): load balancing, the active health check per endpoint,
 * and passive ejection of one that fails (Envoy's outlier detection), as requests, metrics and the admin view show.
 */
describe('a cluster with several endpoints', () => {
  const legacy = new Upstream('legacy');
  const orders = [new Upstream('orders-a'), new Upstream('orders-b'), new Upstream('orders-c')];
  const [slow, quick] = [new Upstream('slow'), new Upstream('quick')];
  let running: RunningProxy;
  let flagDir: string;

  beforeAll(async () => {
    await Promise.all([legacy, ...orders, slow, quick].map((upstream) => upstream.start()));
    flagDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-endpoints-'));
    fs.writeFileSync(path.join(flagDir, 'flags.yaml'), 'flags: {}\n');
    const flags = new FileFlagProvider({ path: path.join(flagDir, 'flags.yaml'), pollIntervalMs: 60_000 }, { logger: silentLogger });
    running = await startProxy(
      {
        clusters: {
          legacy: { url: legacy.url },
          orders: {
            endpoints: orders.map((upstream) => upstream.url),
            healthIntervalMs: 200,
            outlierDetection: { consecutiveFailures: 3, baseEjectionMs: 60_000 },
            circuit: { failureThreshold: 1_000 },
          },
          reports: { endpoints: [slow.url, quick.url], loadBalancing: 'least-outstanding' },
        },
        routes: [
          { id: 'orders', order: 1, match: { path: '/api/orders/{**rest}' }, cluster: 'orders' },
          { id: 'reports', order: 2, match: { path: '/api/reports/{**rest}' }, cluster: 'reports' },
        ],
      },
      flags,
    );
  });

  afterAll(async () => {
    await running?.stop();
    await Promise.all([legacy, ...orders, slow, quick].map((upstream) => upstream.kill()));
    fs.rmSync(flagDir, { recursive: true, force: true });
  });

  const sidesOf = async (count: number, prefix = '/api/orders/'): Promise<Map<string, number>> => {
    const sides = new Map<string, number>();
    for (let index = 0; index < count; index++) {
      const answer = await request(`${running.url}${prefix}${index}`);
      expect(answer.status).toBe(200);
      const side = sideOf(answer.body);
      sides.set(side, (sides.get(side) ?? 0) + 1);
    }
    return sides;
  };
  const metric = async (name: string, endpoint: string): Promise<number | undefined> => {
    const { values } = await running.registry.getSingleMetric(name)!.get();
    return values.find((value) => value.labels.endpoint === endpoint)?.value;
  };
  const endpointView = async (cluster: string, url: string) => {
    const { body } = await running.adminGet('/routes');
    return (body.clusters[cluster].endpoints as Array<{ url: string; healthy: boolean | null; ejected: boolean }>).find((endpoint) => endpoint.url === url);
  };

  it('spreads requests round robin over the endpoints', async () => {
    await eventually(async () => (await Promise.all(orders.map((upstream) => endpointView('orders', upstream.url)))).every((view) => view?.healthy === true), 10_000, 'every endpoint checked healthy');
    expect(Object.fromEntries(await sidesOf(30))).toEqual({ 'orders-a': 10, 'orders-b': 10, 'orders-c': 10 });
  });

  it('leaves out an endpoint whose health check fails, and takes it back once it passes again', async () => {
    const [, , down] = orders;
    const port = down!.port;
    await down!.kill();
    await eventually(async () => (await endpointView('orders', down!.url))?.healthy === false, 10_000, 'the stopped endpoint checked unhealthy');
    expect(await metric('strangler_proxy_endpoint_up', down!.url)).toBe(0);
    expect(Object.fromEntries(await sidesOf(20))).toEqual({ 'orders-a': 10, 'orders-b': 10 });
    await down!.start(port);
    await eventually(async () => (await endpointView('orders', down!.url))?.healthy === true, 10_000, 'the endpoint back');
    expect((await sidesOf(30)).get('orders-c')).toBe(10);
  });

  it('ejects an endpoint that fails requests its health check does not see, and counts the ejection', async () => {
    const failing = orders[1]!;
    failing.failStatus = 503;
    try {
      // Safe requests fall back to legacy while it fails; three failures in a row eject it.
      const answers = await sidesOf(9);
      expect(answers.get('legacy')).toBe(3);
      expect((await endpointView('orders', failing.url))?.ejected).toBe(true);
      expect(await metric('strangler_proxy_endpoint_ejections_total', failing.url)).toBe(1);
      expect(await metric('strangler_proxy_endpoint_up', failing.url)).toBe(0);
      const requestsTo = (upstream: Upstream) => upstream.seen.filter((seen) => seen.url.startsWith('/api/')).length;
      const before = requestsTo(failing);
      expect(Object.fromEntries(await sidesOf(20))).toEqual({ 'orders-a': 10, 'orders-c': 10 });
      expect(requestsTo(failing)).toBe(before);
    } finally {
      failing.failStatus = undefined;
    }
  });

  it('sends to the endpoint with the fewest requests in flight under least-outstanding', async () => {
    slow.delayMs = 3_000; // applies to its /json/ answers
    try {
      const inFlight: Array<Promise<unknown>> = [];
      for (let index = 0; index < 12; index++) {
        inFlight.push(request(`${running.url}/api/reports/json/${index}`));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const answers = await Promise.all(inFlight);
      expect(answers).toHaveLength(12);
      const counted = (upstream: Upstream) => upstream.seen.filter((seen) => seen.url.startsWith('/api/reports/')).length;
      expect(counted(slow)).toBeLessThanOrEqual(2);
      expect(counted(quick)).toBeGreaterThanOrEqual(10);
    } finally {
      slow.delayMs = 0;
    }
  });
});
