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

/** Differences replication lag explains are `lag`; real ones are `mismatch`, kept in memory and in a bounded file. */
describe('lag-aware shadow comparisons', () => {
  const legacy = new Upstream('legacy');
  const catalog = new Upstream('catalog');
  let dir: string;
  let logPath: string;
  let running: RunningProxy;

  const count = async (result: string) => {
    const text = await running.registry.getSingleMetricAsString('strangler_proxy_shadow_comparisons_total');
    return Number(new RegExp(`route="products",result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  };
  const settled = async () => ({ lag: await count('lag'), mismatch: await count('mismatch'), match: await count('match') });
  const fileMismatches = () => [`${logPath}.1`, logPath].filter((file) => fs.existsSync(file)).flatMap((file) => fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line)));

  beforeAll(async () => {
    await Promise.all([legacy.start(), catalog.start()]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-shadow-lag-'));
    logPath = path.join(dir, 'mismatches.jsonl');
    fs.writeFileSync(path.join(dir, 'flags.yaml'), YAML.stringify({ flags: {} }));
    const flags = new FileFlagProvider({ path: path.join(dir, 'flags.yaml'), pollIntervalMs: 500 }, { logger: silentLogger });
    running = await startProxy(
      {
        clusters: { legacy: { url: legacy.url }, catalog: { url: catalog.url } },
        shadow: { keepMismatches: 3, mismatchLog: { path: logPath, maxBytes: 4_096 } },
        routes: [{ id: 'products', order: 10, match: { path: '/api/products/{**rest}' }, cluster: 'catalog', shadow: { enabled: true, ignorePaths: ['servedBy'], lag: { versionPaths: ['version', 'items.*.version'], recheckMs: 300 } } }],
      },
      flags,
    );
  });
  afterAll(async () => {
    await running.stop();
    await Promise.all([legacy.kill(), catalog.kill()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('counts answers holding different versions as lag, in either direction, and keeps no mismatch', async () => {
    legacy.jsonExtra = { version: 7, stock: 3 };
    catalog.jsonExtra = { version: 8, stock: 2 };
    await request(`${running.url}/api/products/json/newer`);
    await waitFor(settled, (n) => n.lag + n.mismatch === 1, 5_000);
    legacy.jsonExtra = { items: [{ sku: 'a', version: 4 }, { sku: 'b', version: 2 }] };
    catalog.jsonExtra = { items: [{ sku: 'a', version: 3 }, { sku: 'b', version: 2 }] };
    await request(`${running.url}/api/products/json/older`);
    await waitFor(settled, (n) => n.lag + n.mismatch === 2, 5_000);
    expect(await settled()).toEqual({ lag: 2, mismatch: 0, match: 0 });
    expect((await running.adminGet('/shadow/mismatches')).body.mismatches).toHaveLength(0);
  });

  it('counts a difference that is gone when both sides are asked again as lag', async () => {
    legacy.jsonExtra = { stock: 5 };
    catalog.jsonExtra = { stock: 6 };
    await request(`${running.url}/api/products/json/catching-up`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    catalog.jsonExtra = { stock: 5 }; // the catalog applies the change before the recheck, 300 ms after the copy
    await waitFor(settled, (n) => n.lag === 3, 5_000);
    expect((await settled()).mismatch).toBe(0);
  });

  it('counts a difference that stays, at the same versions, as a mismatch, in memory and in the file', async () => {
    legacy.jsonExtra = { version: 3, total: 42 };
    catalog.jsonExtra = { version: 3, total: 43 };
    await request(`${running.url}/api/products/json/real`);
    await waitFor(settled, (n) => n.mismatch === 1, 5_000);
    const { body } = await running.adminGet('/shadow/mismatches');
    expect(body.mismatches).toEqual([expect.objectContaining({ route: 'products', path: '/api/products/json/real', differences: ['$.total'] })]);
    await waitFor(async () => fileMismatches().length, (n) => n === 1, 5_000);
    expect(fileMismatches()[0]).toMatchObject({ route: 'products', path: '/api/products/json/real', differences: ['$.total'] });
  });

  it('keeps more mismatches in the file than in memory, and bounds the file by rotating it once', async () => {
    legacy.jsonExtra = { version: 3, total: 42, padding: 'x'.repeat(100) };
    catalog.jsonExtra = { version: 3, total: 44, padding: 'x'.repeat(100) };
    for (let i = 0; i < 6; i++) await request(`${running.url}/api/products/json/many-${i}`);
    await waitFor(settled, (n) => n.mismatch === 7, 10_000);
    expect((await running.adminGet('/shadow/mismatches')).body.mismatches).toHaveLength(3);
    await waitFor(async () => fs.existsSync(`${logPath}.1`), (rotated) => rotated, 5_000);
    expect(fs.statSync(logPath).size).toBeLessThanOrEqual(4_096);
    // Comparisons run concurrently: the newest lines are the last six, in any order.
    const kept = await waitFor(async () => fileMismatches().map((line) => line.path as string), (paths) => paths.includes('/api/products/json/many-5'), 5_000);
    expect(kept.length).toBeGreaterThan(3);
  });
});
