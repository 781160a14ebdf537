import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { FileFlagProvider } from '../../strangler-proxy';
import { request, silentLogger, startProxy, Upstream, type RunningProxy } from './harness';

describe('legacy endpoint inventory through the real proxy', () => {
  const legacy = new Upstream('legacy');
  const orders = new Upstream('orders');
  let running: RunningProxy;
  let flagDir: string;

  beforeAll(async () => {
    await Promise.all([legacy.start(), orders.start()]);
    flagDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-inventory-'));
    const flagFile = path.join(flagDir, 'flags.yaml');
    fs.writeFileSync(flagFile, YAML.stringify({ flags: { 'inventory.orders': true } }));
    running = await startProxy(
      {
        clusters: { legacy: { url: legacy.url }, orders: { url: orders.url } },
        routes: [
          { id: 'orders', order: 10, match: { path: '/api/orders/{**rest}', methods: ['GET'] }, cluster: 'orders', flag: 'inventory.orders' },
          { id: 'payments', order: 20, match: { path: '/api/payments/{**rest}' }, cluster: 'orders', flag: 'inventory.payments' },
        ],
      },
      new FileFlagProvider({ path: flagFile, pollIntervalMs: 200 }, { logger: silentLogger }),
    );
  });
  afterAll(async () => {
    await running.stop();
    await Promise.all([legacy.kill(), orders.kill()]);
    fs.rmSync(flagDir, { recursive: true, force: true });
  });

  it('counts what legacy still answers by route, method and path pattern, and nothing the new side serves', async () => {
    for (const id of [1, 2, 3]) expect((await request(`${running.url}/api/orders/${id}`)).status).toBe(200); // the new side
    for (const id of [10, 11]) await request(`${running.url}/api/payments/${id}/refunds?reason=x`, { method: 'POST', body: '{}' }); // flag off: legacy
    for (const id of ['7f3c2a9e-1b2d-4c5e-8f90-123456789abc', '11111111-2222-4333-8444-555555555555']) await request(`${running.url}/legacy/invoices/${id}`);
    await request(`${running.url}/legacy/search?q=teapot`);

    const { body } = await running.adminGet('/inventory');
    expect(body.endpoints.map(({ route, method, endpoint, requests }: { route: string; method: string; endpoint: string; requests: number }) => ({ route, method, endpoint, requests }))).toEqual([
      { route: 'payments', method: 'POST', endpoint: '/api/payments/{id}/refunds', requests: 2 },
      { route: 'unmatched', method: 'GET', endpoint: '/legacy/invoices/{id}', requests: 2 },
      { route: 'unmatched', method: 'GET', endpoint: '/legacy/search', requests: 1 },
    ]);
    expect(body.endpoints[0].lastSeen).toMatch(/^\d{4}-\d\d-\d\dT/);
    const metrics = await running.registry.getSingleMetricAsString('strangler_proxy_legacy_requests_total');
    expect(metrics).toContain('strangler_proxy_legacy_requests_total{route="payments",method="POST",endpoint="/api/payments/{id}/refunds"} 2');
    expect(metrics).not.toContain('/api/orders');
  });
});
