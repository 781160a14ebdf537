import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { FileFlagProvider } from '../../strangler-proxy';
import { ADMIN_TOKEN, silentLogger, startProxy, Upstream, waitFor, type RunningProxy } from './harness';

/** The probe listener: kubelet probes and Prometheus scrapes without the admin token, and nothing else. */
describe('strangler proxy probe listener', () => {
  const legacy = new Upstream('legacy');
  let flagDir: string;
  let flags: FileFlagProvider;
  const running: RunningProxy[] = [];

  const start = async (probes: Record<string, unknown> | undefined) => {
    const proxy = await startProxy(
      { clusters: { legacy: { url: legacy.url } }, routes: [{ id: 'orders', order: 10, match: { path: '/api/orders/{**rest}' }, cluster: 'legacy' }], ...(probes ? { probes } : {}) },
      flags,
    );
    running.push(proxy);
    return proxy;
  };

  beforeAll(async () => {
    await legacy.start();
    flagDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-flags-'));
    const flagFile = path.join(flagDir, 'flags.yaml');
    fs.writeFileSync(flagFile, YAML.stringify({ flags: {} }));
    flags = new FileFlagProvider({ path: flagFile, pollIntervalMs: 200 }, { logger: silentLogger });
  });

  afterAll(async () => {
    for (const proxy of running) await proxy.stop();
    await legacy.kill();
    fs.rmSync(flagDir, { recursive: true, force: true });
  });

  it('answers /healthz, /readyz and /metrics without a token, while the admin listener still needs one', async () => {
    const proxy = await start({ host: '127.0.0.1', port: 0 });
    const probes = proxy.proxy.address.probes!;
    expect(probes).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(probes).not.toBe(proxy.admin);

    expect(await (await fetch(`${probes}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await waitFor(() => fetch(`${probes}/readyz`), (response) => response.status === 200, 5_000);
    expect(await ready.json()).toMatchObject({ ready: true, flagsReady: true, clusters: { legacy: { healthy: true } } });
    const metrics = await fetch(`${probes}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('strangler_proxy_flags_ready 1');
    expect((await fetch(`${probes}/healthz`, { method: 'HEAD' })).status).toBe(200);

    expect((await fetch(`${proxy.admin}/metrics`)).status).toBe(401);
    expect((await fetch(`${proxy.admin}/healthz`)).status).toBe(401);
  });

  it('is read-only: no admin endpoint, no action, no write method', async () => {
    const probes = (await start({ host: '127.0.0.1', port: 0 })).proxy.address.probes!;
    for (const endpoint of ['/routes', '/explain?path=/api/orders/1', '/inventory', '/shadow/mismatches', '/admin/routes']) {
      const response = await fetch(`${probes}${endpoint}`);
      expect({ endpoint, status: response.status }).toEqual({ endpoint, status: 404 });
    }
    const reload = await fetch(`${probes}/reload`, { method: 'POST' });
    expect(reload.status).toBe(405);
    expect(reload.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${probes}/readyz`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(405);
  });

  it('leaves /metrics out with probes.metrics: false, and has no probe listener unless configured', async () => {
    const withoutMetrics = (await start({ host: '127.0.0.1', port: 0, metrics: false })).proxy.address.probes!;
    expect((await fetch(`${withoutMetrics}/healthz`)).status).toBe(200);
    const metrics = await fetch(`${withoutMetrics}/metrics`);
    expect(metrics.status).toBe(404);
    expect(await metrics.json()).toEqual({ error: 'the probe listener serves /healthz, /readyz' });

    const plain = await start(undefined);
    expect(plain.proxy.address.probes).toBeUndefined();
    expect(Object.keys(plain.proxy.address).sort()).toEqual(['admin', 'proxy']);
  });
});
