import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePort, testEnv, UnleashAdmin, uniqueName } from '../helpers';
import { ADMIN_TOKEN, request, sideOf, Upstream, waitFor } from './harness';

const ROOT = path.resolve(__dirname, '../..');
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface WorkerView {
  worker: number;
  pid: number;
  flagsReady?: boolean;
  config?: { digest: string; lastReload: { ok: boolean } | null };
  requests?: number;
  error?: string;
}

/** A legacy side that answers the read-your-writes check and counts how often each proxy worker asked it. */
class LegacyWithApplied {
  readonly appliedChecks: string[] = [];
  private readonly server = http.createServer((req, res) => {
    if (req.url?.startsWith('/_strangler/applied')) this.appliedChecks.push(req.url);
    res.writeHead(200, { 'content-type': 'application/json', 'x-side': 'legacy' });
    res.end(JSON.stringify(req.url?.startsWith('/_strangler/applied') ? { applied: true } : { side: 'legacy', path: req.url }));
  });
  port = 0;
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** `strangler proxy --workers 2`: one process tree, one admin view over both workers, driven through the real Unleash. */
describe('strangler proxy in worker mode (2 workers)', () => {
  const unleash = new UnleashAdmin();
  const flag = uniqueName('sfg-workers-orders').replace(/_/g, '-');
  const legacy = new LegacyWithApplied();
  const orders = new Upstream('orders');
  let dir: string;
  let configPath: string;
  let config: Record<string, unknown> & { routes: unknown[] };
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let proxyUrl: string;
  let adminUrl: string;
  let probesUrl: string;

  const admin = async <T>(pathname: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${adminUrl}${pathname}`, { ...init, headers: auth });
    return { status: response.status, body: (await response.json()) as T };
  };
  const workers = async () => (await admin<{ workers: WorkerView[] }>('/routes')).body.workers;
  const metric = async (pattern: RegExp) => Number(pattern.exec(await (await fetch(`${probesUrl}/metrics`)).text())?.[1] ?? NaN);
  /** A request on its own connection: the primary hands each new connection to the next worker. */
  const fresh = (url: string, headers: Record<string, string> = {}, method = 'GET') => request(url, { method, headers: { ...headers, connection: 'close' } });

  beforeAll(async () => {
    await Promise.all([legacy.start(), orders.start()]);
    await unleash.createFlag(flag);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-workers-'));
    configPath = path.join(dir, 'proxy.yaml');
    const env = testEnv();
    const [proxyPort, adminPort, probesPort] = [await freePort(), await freePort(), await freePort()];
    config = {
      proxy: { host: '127.0.0.1', port: proxyPort, workers: 2 },
      admin: { host: '127.0.0.1', port: adminPort, token: '${STRANGLER_ADMIN_TOKEN}' },
      probes: { host: '127.0.0.1', port: probesPort },
      flags: { unleash: { url: env.unleashUrl, clientToken: env.unleashClientToken, refreshIntervalMs: 500, backupDir: 'backup', sendMetrics: false } },
      reload: { watchFile: false },
      consistency: { enabled: true, waitMs: 1_000 },
      clusters: { legacy: { url: legacy.url }, orders: { url: orders.url } },
      routes: [
        { id: 'orders', order: 10, match: { path: '/api/orders/{**rest}' }, cluster: 'orders', flag },
        { id: 'place', order: 5, match: { path: '/api/orders', methods: ['POST'] }, cluster: 'orders' },
      ],
    };
    fs.writeFileSync(configPath, YAML.stringify(config));
    child = spawn(process.execPath, ['--import', 'tsx', 'cli/index.ts', 'proxy', '--config', configPath, '--log-level', 'warn'], {
      cwd: ROOT,
      env: { ...process.env, STRANGLER_ADMIN_TOKEN: ADMIN_TOKEN },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    [proxyUrl, adminUrl, probesUrl] = [proxyPort, adminPort, probesPort].map((port) => `http://127.0.0.1:${port}`) as [string, string, string];
    await waitFor(() => fetch(`${probesUrl}/readyz`).then((r) => r.status, () => 0), (status) => status === 200, 60_000, 200);
  }, 90_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await exited;
    await unleash.deleteFlag(flag);
    await Promise.all([legacy.stop(), orders.kill()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('spreads connections over both workers and shows one route view and one set of metrics', async () => {
    const readiness = await (await fetch(`${probesUrl}/readyz`)).json();
    expect(readiness).toMatchObject({ ready: true, flagsReady: true, workers: { expected: 2, ready: 2 }, clusters: { legacy: { healthy: true }, orders: { healthy: true } } });
    for (let n = 0; n < 20; n++) expect((await fresh(`${proxyUrl}/api/orders/${n}`, { 'x-user-id': `user-${n}` })).status).toBe(200);

    const { body } = await admin<{ routes: Array<{ id: string; split: { legacy: number } }>; workers: WorkerView[] }>('/routes');
    expect(body.routes.find((route) => route.id === 'orders')!.split.legacy).toBe(20);
    expect(body.workers).toHaveLength(2);
    expect(new Set(body.workers.map((worker) => worker.pid)).size).toBe(2);
    expect(body.workers.every((worker) => worker.pid !== child.pid && worker.flagsReady === true)).toBe(true);
    // Round robin: each worker took about half of the 20 connections.
    for (const worker of body.workers) expect(worker.requests).toBeGreaterThanOrEqual(5);
    expect(body.workers.reduce((sum, worker) => sum + worker.requests!, 0)).toBe(20);

    expect(await metric(/^strangler_proxy_requests_total\{route="orders",target="legacy",method="GET",code="200"\} (\d+)$/m)).toBe(20);
    expect(await metric(/^strangler_proxy_workers (\d+)$/m)).toBe(2);
    expect(await metric(/^strangler_proxy_flags_ready (\d+)$/m)).toBe(1);
    const inventory = await admin<{ endpoints: Array<{ route: string; requests: number }> }>('/inventory');
    expect(inventory.body.endpoints.filter((entry) => entry.route === 'orders').reduce((sum, entry) => sum + entry.requests, 0)).toBe(20);
  });

  it('picks a flip up in every worker', async () => {
    await unleash.setRollout(flag, 100);
    const rollout = () => admin<{ routes: Array<{ id: string; rolloutPercent: number | null }> }>('/routes').then(({ body }) => body.routes.find((route) => route.id === 'orders')!.rolloutPercent);
    await waitFor(rollout, (percent) => percent === 100, 15_000, 200);
    for (let n = 0; n < 6; n++) expect(sideOf((await fresh(`${proxyUrl}/api/orders/${n}`, { 'x-user-id': `user-${n}` })).body)).toBe('orders');
    expect(await metric(/^strangler_proxy_route_rollout_percent\{route="orders"\} (\d+)$/m)).toBe(100);
  });

  it("waits for a user's write in the worker that did not see it (read-your-writes across workers)", async () => {
    await unleash.setRollout(flag, 0);
    await waitFor(() => admin<{ routes: Array<{ id: string; rolloutPercent: number | null }> }>('/routes'), ({ body }) => body.routes.find((route) => route.id === 'orders')!.rolloutPercent === 0, 15_000, 200);
    orders.writtenHeader = 'order:6a0f6e46-6d0e-4a51-9d3c-4d7d8bb1f3a1@orders';
    expect((await fresh(`${proxyUrl}/api/orders`, { 'x-user-id': 'writer' }, 'POST')).status).toBe(200);
    // Later reads of that user, on new connections, reach both workers; each asks legacy once whether it applied the write.
    for (let n = 0; n < 6; n++) expect(sideOf((await fresh(`${proxyUrl}/api/orders/mine`, { 'x-user-id': 'writer' })).body)).toBe('legacy');
    expect(legacy.appliedChecks).toHaveLength(2);
    expect(legacy.appliedChecks[0]).toContain(encodeURIComponent('order:6a0f6e46-6d0e-4a51-9d3c-4d7d8bb1f3a1@orders'));
    expect(await metric(/^strangler_proxy_consistency_waits_total\{route="orders",outcome="applied"\} (\d+)$/m)).toBe(2);
  });

  it('hands a reload to every worker, and keeps the routes when the file is bad', async () => {
    config.routes.push({ id: 'moved', order: 20, match: { path: '/api/moved/{**rest}' }, cluster: 'orders' });
    fs.writeFileSync(configPath, YAML.stringify(config));
    const reloaded = await admin<{ ok: boolean }>('/reload', { method: 'POST' });
    expect(reloaded).toEqual({ status: 200, body: { ok: true } });
    const view = await admin<{ config: { digest: string }; workers: WorkerView[] }>('/routes');
    expect(view.body.workers.map((worker) => worker.config?.digest)).toEqual([view.body.config.digest, view.body.config.digest]);
    for (let n = 0; n < 4; n++) expect(sideOf((await fresh(`${proxyUrl}/api/moved/${n}`)).body)).toBe('orders');

    fs.writeFileSync(configPath, 'routes: [unclosed');
    child.kill('SIGHUP');
    await waitFor(() => metric(/^strangler_proxy_config_reload_failed (\d+)$/m), (failed) => failed === 1, 10_000, 200);
    const failed = await admin<{ config: { digest: string; lastReload: { ok: boolean; error: string } } }>('/routes');
    expect(failed.body.config.lastReload).toMatchObject({ ok: false });
    expect(failed.body.config.digest).toBe(view.body.config.digest);
    for (let n = 0; n < 4; n++) expect(sideOf((await fresh(`${proxyUrl}/api/moved/${n}`)).body)).toBe('orders');
  });

  it('replaces a worker killed with kill -9, with the last good config, and keeps serving', async () => {
    const before = await workers();
    process.kill(before[0]!.pid, 'SIGKILL');
    const after = await waitFor(workers, (list) => list.length === 2 && list.every((worker) => worker.pid !== before[0]!.pid && worker.flagsReady === true), 30_000, 200);
    expect(after.find((worker) => worker.worker === 0)!.pid).not.toBe(before[0]!.pid);
    expect(after.find((worker) => worker.worker === 1)!.pid).toBe(before[1]!.pid);
    // The file is still bad: the new worker runs the configuration the others run.
    expect(new Set(after.map((worker) => worker.config?.digest)).size).toBe(1);
    expect(await metric(/^strangler_proxy_worker_restarts_total (\d+)$/m)).toBe(1);
    await waitFor(() => fetch(`${probesUrl}/readyz`).then((r) => r.status), (status) => status === 200, 15_000, 200);
    for (let n = 0; n < 6; n++) expect(sideOf((await fresh(`${proxyUrl}/api/moved/${n}`)).body)).toBe('orders');
  });

  it('stops every worker on SIGTERM and exits 0', async () => {
    const pids = (await workers()).map((worker) => worker.pid);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(pids.filter(alive)).toEqual([]);
  });
});
