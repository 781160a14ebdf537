import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import YAML from 'yaml';
import { FileFlagProvider, parseProxyConfig } from '../../strangler-proxy';
import { StranglerMiddleware } from '../../strangler-proxy/express';
import { eventually } from '../helpers';
import { ADMIN_TOKEN, request, sideOf, silentLogger, startProxy, Upstream } from './harness';

/**
 * One table of forwarding behaviour run against both engines: the standalone proxy and the express middleware share
 * one exchange (decision, fallback, breaker, read-your-writes, body limit, metrics, inventory), so any difference
 * between them fails here.
 */
interface Engine {
  url: string;
  registry: Registry;
  stop(): Promise<void>;
}

type StartEngine = (config: Record<string, unknown>, flags: FileFlagProvider) => Promise<Engine>;

const ENGINES: Array<[string, StartEngine]> = [
  [
    'the standalone proxy',
    async (config, flags) => {
      const running = await startProxy(config, flags);
      return { url: running.url, registry: running.registry, stop: () => running.stop() };
    },
  ],
  [
    'the express middleware',
    async (config, flags) => {
      const registry = new Registry();
      const full = parseProxyConfig({ admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN }, flags: { provider: 'file' }, ...config }, {});
      const middleware = new StranglerMiddleware({ config: full, admin: false }, { logger: silentLogger, registry, flags });
      await middleware.start();
      const app = express();
      app.use(middleware.handle);
      const server = http.createServer(app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        registry,
        async stop() {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await middleware.stop();
        },
      };
    },
  ],
];

/** Legacy: echoes like Upstream, and answers read-your-writes' applied question only once `applied` is set. */
class Legacy {
  readonly seen: Array<{ method: string; url: string }> = [];
  applied = true;
  private waiting: Array<() => void> = [];
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  markApplied(): void {
    this.applied = true;
    for (const answer of this.waiting.splice(0)) answer();
  }

  async stop(): Promise<void> {
    this.markApplied();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    const url = req.url ?? '/';
    const send = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url === '/healthz') return void send({ ok: true });
    if (url.startsWith('/_strangler/applied')) {
      if (this.applied) return void send({ applied: true });
      this.waiting.push(() => send({ applied: true }));
      return;
    }
    this.seen.push({ method: req.method ?? 'GET', url });
    req.once('end', () => send({ side: 'legacy', method: req.method, url }));
  }
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((value) => Object.entries(labels).every(([key, wanted]) => String(value.labels[key]) === wanted)).reduce((sum, value) => sum + value.value, 0);
}

describe.each(ENGINES)('%s forwards as the other engine does', (_name, startEngine) => {
  const legacy = new Legacy();
  const orders = new Upstream('orders');
  let flagDir: string;
  let engine: Engine;

  beforeAll(async () => {
    const legacyUrl = await legacy.start();
    await orders.start();
    flagDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-engines-'));
    const flagFile = path.join(flagDir, 'flags.yaml');
    fs.writeFileSync(flagFile, YAML.stringify({ flags: { 'orders-on': true, 'split-half': { enabled: true, rollout: 50 } } }));
    const flags = new FileFlagProvider({ path: flagFile, pollIntervalMs: 60_000 }, { logger: silentLogger });
    engine = await startEngine(
      {
        context: { userIdHeader: 'x-user-id' },
        consistency: { enabled: true, waitMs: 3_000 },
        clusters: { legacy: { url: legacyUrl }, orders: { url: orders.url, responseTimeoutMs: 300, circuit: { failureThreshold: 1_000 } } },
        routes: [
          { id: 'orders', order: 10, match: { path: '/api/orders/{**rest}' }, cluster: 'orders', flag: 'orders-on', fallback: 'safe-methods', maxBodyBytes: 64 },
          { id: 'split', order: 20, match: { path: '/api/split/{**rest}' }, cluster: 'orders', flag: 'split-half' },
        ],
      },
      flags,
    );
  });

  afterAll(async () => {
    await engine?.stop();
    await legacy.stop();
    await orders.kill();
    fs.rmSync(flagDir, { recursive: true, force: true });
  });

  const ask = (url: string, user: string, init: { method?: string; body?: string } = {}) =>
    request(`${engine.url}${url}`, { method: init.method, body: init.body, headers: { 'x-user-id': user, ...(init.body ? { 'content-type': 'application/json' } : {}) } });

  it('falls back to legacy for a GET the service answers with a 5xx, and counts why', async () => {
    orders.failStatus = 503;
    try {
      const answer = await ask('/api/orders/5xx', 'ann');
      expect({ status: answer.status, side: sideOf(answer.body) }).toEqual({ status: 200, side: 'legacy' });
    } finally {
      orders.failStatus = undefined;
    }
    expect(orders.count('GET', '/api/orders/5xx')).toBe(1);
    expect(await metricValue(engine.registry, 'strangler_proxy_fallbacks_total', { route: 'orders', reason: 'upstream_5xx' })).toBe(1);
  });

  it('falls back to legacy for a GET the service answers too late', async () => {
    const answer = await ask('/api/orders/slow/2000', 'ann');
    expect({ status: answer.status, side: sideOf(answer.body) }).toEqual({ status: 200, side: 'legacy' });
    expect(await metricValue(engine.registry, 'strangler_proxy_fallbacks_total', { route: 'orders', reason: 'timeout' })).toBe(1);
  });

  it('never replays a write: a POST the service fails is its answer, legacy never sees it', async () => {
    orders.failStatus = 503;
    try {
      const answer = await ask('/api/orders/pay', 'ann', { method: 'POST', body: '{"amount":3}' });
      expect({ status: answer.status, side: sideOf(answer.body) }).toEqual({ status: 503, side: 'orders' });
    } finally {
      orders.failStatus = undefined;
    }
    expect(orders.count('POST', '/api/orders/pay')).toBe(1);
    expect(legacy.seen.filter((seen) => seen.url === '/api/orders/pay')).toEqual([]);
  });

  it('keeps each user on one side of a 50 % split, and both sides get users', async () => {
    const sides = new Map<string, Set<string>>();
    for (let user = 0; user < 40; user++) {
      for (let visit = 0; visit < 3; visit++) {
        const answer = await ask(`/api/split/${visit}`, `user-${user}`);
        expect(answer.status).toBe(200);
        sides.set(`user-${user}`, (sides.get(`user-${user}`) ?? new Set()).add(sideOf(answer.body)));
      }
    }
    expect([...sides.values()].every((seen) => seen.size === 1)).toBe(true);
    const onOrders = [...sides.values()].filter((seen) => seen.has('orders')).length;
    expect(onOrders).toBeGreaterThan(5);
    expect(onOrders).toBeLessThan(35);
  });

  it('refuses a body over the route limit with 413 before any side sees it', async () => {
    const answer = await ask('/api/orders/big', 'ann', { method: 'POST', body: JSON.stringify({ note: 'x'.repeat(100) }) });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'SFG_PROXY_BODY_TOO_LARGE' } });
    expect(orders.count('POST', '/api/orders/big')).toBe(0);
  });

  it("holds a user's next read on legacy until legacy has applied the write the service answered (read-your-writes)", async () => {
    orders.writtenHeader = `order:${randomUUID()}`;
    legacy.applied = false;
    try {
      const written = await ask('/api/orders/new', 'bea', { method: 'POST', body: '{}' });
      expect(sideOf(written.body)).toBe('orders');
      const startedAt = Date.now();
      const read = ask('/api/profile', 'bea');
      setTimeout(() => legacy.markApplied(), 400);
      const answer = await read;
      expect({ status: answer.status, side: sideOf(answer.body) }).toEqual({ status: 200, side: 'legacy' });
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(350);
    } finally {
      orders.writtenHeader = undefined;
      legacy.markApplied();
    }
    expect(await metricValue(engine.registry, 'strangler_proxy_consistency_waits_total', { outcome: 'applied' })).toBe(1);
  });

  it('counts every answer per route and side, and what legacy still answers', async () => {
    await ask('/api/catalogue/7', 'cid');
    expect(await metricValue(engine.registry, 'strangler_proxy_requests_total', { route: 'orders', target: 'extracted', code: '503' })).toBe(1);
    expect(await metricValue(engine.registry, 'strangler_proxy_requests_total', { route: 'orders', target: 'legacy', code: '200' })).toBe(2);
    expect(await metricValue(engine.registry, 'strangler_proxy_requests_total', { route: 'orders', code: '413' })).toBe(1);
    // Counted once the response has closed, which the client may see a moment before the server does.
    const legacyEndpoint = { route: 'unmatched', method: 'GET', endpoint: '/api/catalogue/{id}' };
    await eventually(async () => (await metricValue(engine.registry, 'strangler_proxy_legacy_requests_total', legacyEndpoint)) === 1, 5_000, 'the legacy endpoint counted');
  });
});
