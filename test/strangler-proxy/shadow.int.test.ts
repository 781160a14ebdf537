import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { FileFlagProvider } from '../../strangler-proxy';
import { inParallel, request, silentLogger, startProxy, Upstream, waitFor, type RunningProxy } from './harness';

/** Shadow traffic between real upstreams: comparison, mismatch exposure, isolation from the client. */
describe('strangler proxy shadow traffic', () => {
  const legacy = new Upstream('legacy');
  const orders = new Upstream('orders');
  let flagDir: string;
  let running: RunningProxy;

  const comparisons = async () => {
    const text = await running.registry.getSingleMetricAsString('strangler_proxy_shadow_comparisons_total');
    const count = (route: string, result: string) => Number(new RegExp(`route="${route}",result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    return { count };
  };

  beforeAll(async () => {
    await Promise.all([legacy.start(), orders.start()]);
    flagDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-shadow-'));
    const flagFile = path.join(flagDir, 'flags.yaml');
    fs.writeFileSync(flagFile, YAML.stringify({ flags: { 'orders.on': false } }));
    const flags = new FileFlagProvider({ path: flagFile, pollIntervalMs: 500 }, { logger: silentLogger });
    running = await startProxy(
      {
        clusters: { legacy: { url: legacy.url }, orders: { url: orders.url } },
        shadow: { queueSize: 4, concurrency: 2, keepMismatches: 5 },
        routes: [
          {
            id: 'orders',
            order: 10,
            match: { path: '/api/orders/{**rest}' },
            cluster: 'orders',
            flag: 'orders.on',
            shadow: { enabled: true, timeoutMs: 300, ignorePaths: ['servedBy'] },
          },
          { id: 'writes', order: 20, match: { path: '/api/writes/{**rest}' }, cluster: 'orders', shadow: { enabled: true, allowWrites: true } },
          { id: 'reads-only', order: 30, match: { path: '/api/reads/{**rest}' }, cluster: 'orders', shadow: { enabled: true } },
        ],
      },
      flags,
    );
  });

  afterAll(async () => {
    await running.stop();
    await Promise.all([legacy.kill(), orders.kill()]);
    fs.rmSync(flagDir, { recursive: true, force: true });
  });

  it('counts equal answers as a match: ignored fields, timestamps and uuids do not make a mismatch', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await request(`${running.url}/api/orders/json/${i}`);
      expect(JSON.parse(response.body).servedBy).toBe('legacy'); // the primary (flag off) answers the client
    }
    await waitFor(async () => (await comparisons()).count('orders', 'match'), (n) => n === 3, 5_000);
    expect((await comparisons()).count('orders', 'match')).toBe(3);
    expect((await comparisons()).count('orders', 'mismatch')).toBe(0);
    expect(orders.seen.filter((seen) => seen.url.startsWith('/api/orders/json/')).every((seen) => seen.headers['x-shadow'] === '1')).toBe(true);
  });

  it('detects a mismatch and exposes both bodies at GET /shadow/mismatches', async () => {
    orders.jsonExtra = { total: 43 };
    await request(`${running.url}/api/orders/json/mismatch`);
    await waitFor(async () => (await comparisons()).count('orders', 'mismatch'), (n) => n === 1, 5_000);
    orders.jsonExtra = {};
    const { body } = await running.adminGet('/shadow/mismatches');
    expect(body.mismatches).toHaveLength(1);
    const [mismatch] = body.mismatches;
    expect(mismatch).toMatchObject({ route: 'orders', method: 'GET', path: '/api/orders/json/mismatch', differences: ['$.total'] });
    expect(JSON.parse(mismatch.primary.body)).toMatchObject({ servedBy: 'legacy', total: 42 });
    expect(JSON.parse(mismatch.shadow.body)).toMatchObject({ servedBy: 'orders', total: 43 });
    expect(mismatch.primary.target).toBe('legacy');
    expect(mismatch.shadow.target).toBe('extracted');
  });

  it('never slows the client: a slow shadow side times out on its own and excess copies are dropped', async () => {
    const before = await comparisons();
    const errorsBefore = before.count('orders', 'error');
    const droppedBefore = before.count('orders', 'dropped');
    orders.delayMs = 2_000;
    const durations = await inParallel(Array.from({ length: 12 }, (_, i) => i), 12, async (i) => {
      const started = performance.now();
      const response = await request(`${running.url}/api/orders/json/slow-${i}`);
      expect(JSON.parse(response.body).servedBy).toBe('legacy');
      return performance.now() - started;
    });
    // The shadow side takes 2 s; clients are answered by legacy long before (generous bound for a busy machine).
    expect(Math.max(...durations)).toBeLessThan(1_000);
    const settled = async () => {
      const now = await comparisons();
      return { errors: now.count('orders', 'error') - errorsBefore, dropped: now.count('orders', 'dropped') - droppedBefore };
    };
    const { errors, dropped } = await waitFor(settled, (n) => n.errors + n.dropped === 12, 5_000);
    expect(dropped).toBeGreaterThan(0); // queue of 4 with 2 workers cannot hold 12 copies at once
    expect(errors).toBeGreaterThan(0); // the 300 ms shadow timeout fired
    orders.delayMs = 0;
  });

  it('shadows writes only where allowed, marking the copy with X-Shadow: 1', async () => {
    const write = await request(`${running.url}/api/writes/items`, { method: 'POST', body: '{"sku":"z"}', headers: { 'content-type': 'application/json' } });
    expect(JSON.parse(write.body).side).toBe('orders');
    const copy = await waitFor(() => legacy.seen.find((seen) => seen.url === '/api/writes/items'), (seen) => seen !== undefined, 5_000);
    expect(copy).toMatchObject({ method: 'POST', body: '{"sku":"z"}' });
    expect(copy!.headers['x-shadow']).toBe('1');

    await request(`${running.url}/api/reads/items`, { method: 'POST', body: '{}' });
    await request(`${running.url}/api/reads/items`);
    await waitFor(() => legacy.count('GET', '/api/reads/items'), (n) => n === 1, 5_000);
    expect(legacy.count('POST', '/api/reads/items')).toBe(0);
  });
});
