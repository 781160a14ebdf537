import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import pino from 'pino';
import { Registry } from 'prom-client';
import { main } from '../../cli';
import { createFlagProvider, parseProxyConfig } from '../../strangler-proxy';
import { StranglerMiddleware } from '../../strangler-proxy/express';
import { freePort, testEnv, UnleashAdmin, uniqueName } from '../helpers';
import { ADMIN_TOKEN, request, sideOf, Upstream, waitFor } from './harness';

/**
 * The express integration: StranglerMiddleware inside an existing express app, with a real Unleash flag, real
 * upstream servers and http-proxy-middleware forwarding. The same route table, sticky rollout, fallback and
 * metrics as the standalone proxy, and `strangler flip` confirmed through its admin API.
 */
describe('StranglerMiddleware in an express app', () => {
  const unleash = new UnleashAdmin();
  const flag = uniqueName('sfg-express-orders').replace(/_/g, '-');
  const legacy = new Upstream('legacy');
  const orders = new Upstream('orders');
  const registry = new Registry();
  let middleware: StranglerMiddleware;
  let server: http.Server;
  let appUrl: string;
  let adminUrl: string;
  let backupDir: string;

  beforeAll(async () => {
    await Promise.all([legacy.start(), orders.start()]);
    await unleash.createFlag(flag);
    await unleash.setRollout(flag, 0);
    backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-express-'));
    const env = testEnv();
    const adminPort = await freePort();
    adminUrl = `http://127.0.0.1:${adminPort}`;
    const config = parseProxyConfig({
      admin: { host: '127.0.0.1', port: adminPort, token: ADMIN_TOKEN },
      flags: { unleash: { url: env.unleashUrl, clientToken: env.unleashClientToken, refreshIntervalMs: 300, backupDir, sendMetrics: false } },
      context: { userIdHeader: 'x-user-id' },
      clusters: { legacy: { url: legacy.url }, orders: { url: orders.url, responseTimeoutMs: 1_000 } },
      routes: [{ id: 'orders', order: 10, match: { path: '/api/orders/{**rest}' }, cluster: 'orders', flag, stickiness: 'user', fallback: 'safe-methods' }],
    });
    const logger = pino({ level: 'silent' });
    middleware = new StranglerMiddleware({ config, unmatched: 'next' }, { logger, registry, flags: createFlagProvider(config.flags, { logger }) });
    await middleware.start();

    const app = express();
    app.get('/gateway/health', (_req, res) => {
      res.json({ servedBy: 'gateway' });
    });
    app.use(middleware.handle);
    app.use((_req, res) => {
      res.status(404).json({ servedBy: 'gateway', error: 'not found' });
    });
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 60_000);

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await middleware?.stop();
    await unleash.deleteFlag(flag).catch(() => undefined);
    await Promise.all([legacy.kill(), orders.kill()]);
    fs.rmSync(backupDir, { recursive: true, force: true });
  });

  const ask = (url: string, user: string, init: { method?: string; body?: string } = {}) =>
    request(`${appUrl}${url}`, { method: init.method, body: init.body, headers: { 'x-user-id': user, ...(init.body ? { 'content-type': 'application/json' } : {}) } });

  it("leaves the app's own routes alone and sends the route to legacy while the flag is at 0", async () => {
    expect(JSON.parse((await ask('/gateway/health', 'alice')).body)).toEqual({ servedBy: 'gateway' });
    expect(JSON.parse((await ask('/nowhere', 'alice')).body)).toMatchObject({ servedBy: 'gateway', error: 'not found' });
    const routed = await ask('/api/orders/7?x=1', 'alice');
    expect(routed.status).toBe(200);
    expect(sideOf(routed.body)).toBe('legacy');
    expect(JSON.parse(routed.body)).toMatchObject({ url: '/api/orders/7?x=1' });
    expect(routed.headers['x-request-id']).toBeTruthy();
  });

  it('flips through `strangler flip` (confirmed by the admin API), keeps users sticky at 50 % and moves everyone at 100 %', async () => {
    const flip = async (percent: number) => {
      const saved = { ...process.env };
      Object.assign(process.env, { STRANGLER_ADMIN_URL: adminUrl, STRANGLER_ADMIN_TOKEN: ADMIN_TOKEN });
      const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        return await main(['flip', 'orders', String(percent), '--wait-ms', '15000']);
      } finally {
        process.env = saved;
        log.mockRestore();
        error.mockRestore();
      }
    };
    expect(await flip(50)).toBe(0);
    const users = Array.from({ length: 40 }, (_, index) => `user-${index}`);
    const firstSide = new Map<string, string>();
    for (const user of users) firstSide.set(user, sideOf((await ask(`/api/orders/${user}`, user)).body));
    for (const user of users) expect(sideOf((await ask(`/api/orders/${user}/again`, user)).body)).toBe(firstSide.get(user));
    const moved = [...firstSide.values()].filter((side) => side === 'orders').length;
    expect(moved).toBeGreaterThan(5);
    expect(moved).toBeLessThan(35);

    expect(await flip(100)).toBe(0);
    for (const user of users.slice(0, 10)) expect(sideOf((await ask('/api/orders/1', user)).body)).toBe('orders');
    const posted = await ask('/api/orders', 'alice', { method: 'POST', body: JSON.stringify({ sku: 'kettle', quantity: 2 }) });
    expect(posted.status).toBe(200);
    expect(JSON.parse(posted.body)).toMatchObject({ side: 'orders', method: 'POST', body: '{"sku":"kettle","quantity":2}' });
  });

  it('falls back to legacy for a safe request the service fails (5xx, timeout, refused) and never for a write', async () => {
    orders.failStatus = 503;
    try {
      const read = await ask('/api/orders/1', 'alice');
      expect(read.status).toBe(200);
      expect(sideOf(read.body)).toBe('legacy');
      const write = await ask('/api/orders/1', 'alice', { method: 'POST', body: '{"n":1}' });
      expect(write.status).toBe(503);
      expect(sideOf(write.body)).toBe('orders');
    } finally {
      orders.failStatus = undefined;
    }
    const slow = await ask('/api/orders/slow/1500', 'alice');
    expect(slow.status).toBe(200);
    expect(sideOf(slow.body)).toBe('legacy');

    const metrics = await registry.metrics();
    expect(metrics).toMatch(/strangler_proxy_fallbacks_total\{route="orders",reason="upstream_5xx"\} [1-9]/);
    expect(metrics).toMatch(/strangler_proxy_fallbacks_total\{route="orders",reason="timeout"\} [1-9]/);
    expect(metrics).toMatch(/strangler_proxy_requests_total\{[^}]*route="orders"[^}]*target="extracted"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/strangler_proxy_route_rollout_percent\{route="orders"\} 100/);
  });

  it('answers the standalone proxy’s JSON errors: a bad path is refused, an unreachable service is a 502 for a write', async () => {
    const bad = await ask('/api/orders/%2e%2e%2fadmin', 'alice');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'SFG_PROXY_BAD_PATH' } });

    await orders.kill();
    const read = await waitFor(() => ask('/api/orders/2', 'alice'), (answer) => answer.status === 200, 5_000);
    expect(sideOf(read.body)).toBe('legacy');
    const write = await ask('/api/orders/2', 'alice', { method: 'PUT', body: '{}' });
    expect(write.status).toBe(502);
    expect(JSON.parse(write.body)).toMatchObject({ error: { code: 'SFG_PROXY_UPSTREAM_UNAVAILABLE' } });
  });
});
