import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import YAML from 'yaml';
import { FileFlagProvider } from '../../strangler-proxy';
import { ADMIN_TOKEN, request, silentLogger, startProxy, Upstream, waitFor, type RunningProxy } from './harness';

/** Forwarding, safety, WebSocket/SSE, admin API and hot reload, with real upstream servers and a flag file. */
describe('strangler proxy forwarding', () => {
  const legacy = new Upstream('legacy');
  const orders = new Upstream('orders');
  const payments = new Upstream('payments');
  let flagDir: string;
  let flags: FileFlagProvider;
  let running: RunningProxy;

  const config = () => ({
    clusters: {
      legacy: { url: legacy.url, responseTimeoutMs: 400 },
      orders: { url: orders.url, responseTimeoutMs: 400, circuit: { failureThreshold: 3, openMs: 60_000 } },
      payments: { url: payments.url, responseTimeoutMs: 400, circuit: { failureThreshold: 1000, openMs: 1000 } },
    },
    routes: [
      { id: 'orders', order: 10, match: { path: '/api/orders/{**rest}' }, cluster: 'orders', flag: 'orders.on', maxBodyBytes: 100 },
      { id: 'payments', order: 20, match: { path: '/api/payments/{**rest}' }, cluster: 'payments', flag: 'payments.on' },
      { id: 'catalog', order: 30, match: { path: '/api/catalog/{**rest}', methods: ['GET'] }, cluster: 'legacy' },
    ],
    reload: { pollIntervalMs: 200 },
  });

  beforeAll(async () => {
    await Promise.all([legacy.start(), orders.start(), payments.start()]);
    flagDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-flags-'));
    const flagFile = path.join(flagDir, 'flags.yaml');
    fs.writeFileSync(flagFile, YAML.stringify({ flags: { 'orders.on': true, 'payments.on': true } }));
    flags = new FileFlagProvider({ path: flagFile, pollIntervalMs: 200 }, { logger: silentLogger });
    running = await startProxy(config(), flags, { writeFile: true });
  });

  afterAll(async () => {
    await running.stop();
    await Promise.all([legacy.kill(), orders.kill(), payments.kill()]);
    fs.rmSync(flagDir, { recursive: true, force: true });
  });

  it('forwards with X-Forwarded-*, a request id, traceparent, and without hop-by-hop headers', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const response = await request(`${running.url}/api/orders/1?x=1`, {
      headers: { traceparent, connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'keep-alive': 'timeout=5', 'x-user-id': 'u-1' },
    });
    expect(response.status).toBe(200);
    const echoed = JSON.parse(response.body);
    expect(echoed).toMatchObject({ side: 'orders', url: '/api/orders/1?x=1' });
    expect(echoed.headers).toMatchObject({ traceparent, 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': running.url.slice(7), 'x-user-id': 'u-1' });
    expect(echoed.headers['x-hop']).toBeUndefined();
    expect(echoed.headers['keep-alive']).toBeUndefined();
    expect(echoed.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers['x-request-id']).toBe(echoed.headers['x-request-id']);
    expect(response.headers['set-cookie']).toBeUndefined(); // a userId buckets the request: no session needed
    const anonymous = await request(`${running.url}/api/orders/2`);
    expect(anonymous.headers['set-cookie']?.[0]).toMatch(/^sfg_sid=[0-9a-f-]{36}; Path=\/;/);

    const hop = await request(`${running.url}/api/catalog/hop-by-hop`);
    expect(hop.headers['x-kept']).toBe('yes');
    expect(hop.headers['x-upstream-hop']).toBeUndefined();
    expect(hop.headers['keep-alive']).toBe('timeout=65'); // the proxy's own, not the upstream's timeout=5

    const given = await request(`${running.url}/api/catalog/x`, { headers: { 'x-request-id': 'req-42', 'x-forwarded-for': '10.0.0.1' } });
    expect(JSON.parse(given.body).headers).toMatchObject({ 'x-request-id': 'req-42', 'x-forwarded-for': '10.0.0.1, 127.0.0.1' });
    expect(given.headers['set-cookie']).toBeUndefined(); // no flag on that route: no cookie needed

    // A client's own X-Forwarded-Host/-Proto never reach the upstream: the proxy describes the request it received.
    const spoofed = await request(`${running.url}/api/catalog/spoof`, { headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
    expect(JSON.parse(spoofed.body).headers).toMatchObject({ 'x-forwarded-host': running.url.slice(7), 'x-forwarded-proto': 'http' });
  });

  it('keeps a load balancer’s X-Forwarded-Host/-Proto when context.trustForwardedHeaders is set', async () => {
    const trusting = await startProxy({ ...config(), context: { trustForwardedHeaders: true } }, flags);
    try {
      const behindLb = await request(`${trusting.url}/api/catalog/lb`, { headers: { 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': 'https' } });
      expect(JSON.parse(behindLb.body).headers).toMatchObject({ 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': 'https' });
      const direct = await request(`${trusting.url}/api/catalog/direct`);
      expect(JSON.parse(direct.body).headers).toMatchObject({ 'x-forwarded-host': trusting.url.slice(7), 'x-forwarded-proto': 'http' });
    } finally {
      await trusting.stop();
    }
  });

  it('answers CONNECT with 405 and an oversize header with 431, each with a status line', async () => {
    const rawExchange = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(new URL(running.url).port), '127.0.0.1', () => socket.write(text));
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
      });
    expect(await rawExchange('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(await rawExchange(`GET /api/catalog/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    expect(await rawExchange('NOT A REQUEST\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('matches and forwards the same normalised path, and rejects encoded slashes with a JSON 400', async () => {
    const response = await request(`${running.url}//api/catalog/./a/../b%20c`);
    expect(JSON.parse(response.body)).toMatchObject({ side: 'legacy', url: '/api/catalog/b%20c' });
    const smuggled = await request(`${running.url}/api/catalog/..%2F..%2Fadmin`);
    expect(smuggled.status).toBe(400);
    expect(JSON.parse(smuggled.body)).toMatchObject({ error: { code: 'SFG_PROXY_BAD_PATH', requestId: smuggled.headers['x-request-id'] } });
    // Tomcat-style path parameters: `..;` is `..` to Tomcat, a plain segment to the route table.
    for (const traversal of ['/api/orders/..;/admin', '/api/orders/..%3B/admin', '/api/orders/1;jsessionid=x']) {
      const answer = await request(`${running.url}${traversal}`);
      expect({ traversal, status: answer.status, code: JSON.parse(answer.body).error.code }).toEqual({ traversal, status: 400, code: 'SFG_PROXY_BAD_PATH' });
    }
    expect([...legacy.seen, ...orders.seen].some((seen) => seen.url.includes('admin') || seen.url.includes(';'))).toBe(false);
  });

  it('streams request bodies and answers 413 before any upstream sees an oversized body', async () => {
    const small = await request(`${running.url}/api/orders/bodies`, { method: 'POST', body: 'x'.repeat(50), headers: { 'content-type': 'text/plain' } });
    expect(JSON.parse(small.body)).toMatchObject({ side: 'orders', body: 'x'.repeat(50) });
    const big = await request(`${running.url}/api/orders/too-big`, { method: 'POST', body: 'x'.repeat(500) });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).error.code).toBe('SFG_PROXY_BODY_TOO_LARGE');
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${running.url}/api/orders/too-big-chunked`, { method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('y'.repeat(80));
      setTimeout(() => req.end('y'.repeat(80)), 50);
    });
    expect(chunked).toBe(413);
    // The proxy answers `Expect: 100-continue` itself and forwards the body without the header.
    const continued = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${running.url}/api/orders/expect`, { method: 'POST', headers: { expect: '100-continue', 'content-length': 5 } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      });
      req.on('continue', () => req.end('hello'));
      req.on('error', reject);
    });
    expect(JSON.parse(continued)).toMatchObject({ side: 'orders', body: 'hello' });
    expect(JSON.parse(continued).headers.expect).toBeUndefined();
    expect(orders.count('POST', '/api/orders/too-big')).toBe(0);
    expect(orders.seen.filter((seen) => seen.url === '/api/orders/too-big-chunked' && seen.body.length > 100)).toHaveLength(0);
  });

  it('answers 504 with a JSON body when legacy is too slow, and cancels the upstream when the client aborts', async () => {
    const slow = await request(`${running.url}/api/catalog/slow/1500`);
    expect(slow.status).toBe(504);
    expect(JSON.parse(slow.body).error.code).toBe('SFG_PROXY_UPSTREAM_TIMEOUT');

    const abortedBefore = legacy.aborted;
    const controller = new AbortController();
    const pending = fetch(`${running.url}/slow/300`, { signal: controller.signal }).catch(() => 'aborted');
    await waitFor(() => legacy.seen.filter((seen) => seen.url === '/slow/300').length, (n) => n === 1, 2000, 10);
    controller.abort();
    expect(await pending).toBe('aborted');
    await waitFor(() => legacy.aborted, (n) => n > abortedBefore, 2000, 20);
    expect(legacy.aborted).toBe(abortedBefore + 1);
  });

  it('falls back to legacy for a safe request when the extracted service answers 5xx, never for a POST', async () => {
    payments.failStatus = 503;
    const get = await request(`${running.url}/api/payments/failing`);
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body).side).toBe('legacy');
    expect(payments.count('GET', '/api/payments/failing')).toBe(1);

    const post = await request(`${running.url}/api/payments/failing`, { method: 'POST', body: '{"amount":1}' });
    expect(post.status).toBe(503);
    expect(JSON.parse(post.body).side).toBe('payments');
    expect(payments.count('POST', '/api/payments/failing')).toBe(1);
    expect(legacy.count('POST', '/api/payments/failing')).toBe(0);
    payments.failStatus = undefined;

    const slowPost = await request(`${running.url}/api/payments/slow/1000`, { method: 'POST', body: '{}' });
    expect(slowPost.status).toBe(504);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(payments.count('POST', '/api/payments/slow/1000')).toBe(1);
    expect(legacy.count('POST', '/api/payments/slow/1000')).toBe(0);

    const metrics = await running.registry.getSingleMetricAsString('strangler_proxy_fallbacks_total');
    expect(metrics).toContain('strangler_proxy_fallbacks_total{route="payments",reason="upstream_5xx"} 1');
  });

  it('streams server-sent events and proxies WebSocket upgrades through the route table', async () => {
    const events = await new Promise<string[]>((resolve, reject) => {
      http.get(`${running.url}/api/orders/sse`, (res) => {
        const received: string[] = [];
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => received.push(...chunk.split('\n\n').filter(Boolean)));
        res.on('end', () => resolve(received));
      }).on('error', reject);
    });
    expect(events).toEqual(['data: orders-0', 'data: orders-1', 'data: orders-2']);

    const echo = async (url: string) => {
      const socket = new WebSocket(url, { headers: { 'x-user-id': 'ws-user' } });
      const reply = await new Promise<string>((resolve, reject) => {
        socket.on('open', () => socket.send('hello'));
        socket.on('message', (data) => resolve(String(data)));
        socket.on('error', reject);
      });
      socket.close();
      return reply;
    };
    expect(await echo(`${running.url.replace('http', 'ws')}/api/orders/ws`)).toBe('orders:/api/orders/ws:hello');
    expect(await echo(`${running.url.replace('http', 'ws')}/chat`)).toBe('legacy:/chat:hello');
  });

  it('requires the admin bearer token and explains routing decisions', async () => {
    expect((await fetch(`${running.admin}/routes`)).status).toBe(401);
    expect((await fetch(`${running.admin}/metrics`, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(401);
    expect((await fetch(`${running.admin}/healthz`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    // The scheme is case-insensitive; the token is not.
    expect((await fetch(`${running.admin}/healthz`, { headers: { authorization: `bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${running.admin}/healthz`, { headers: { authorization: `BEARER ${ADMIN_TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${running.admin}/healthz`, { headers: { authorization: `Bearer ${ADMIN_TOKEN.toUpperCase()}` } })).status).toBe(401);
    const readyz = await waitFor(() => running.adminGet('/readyz'), (r) => r.status === 200, 5000);
    expect(readyz.body).toMatchObject({ ready: true, flagsReady: true, clusters: { legacy: { healthy: true } } });

    const explained = await running.adminGet('/explain?method=GET&path=/api//orders/7&userId=u1');
    expect(explained.body).toMatchObject({ route: 'orders', normalizedPath: '/api/orders/7', target: 'extracted', cluster: 'orders', reason: 'flag-on' });
    const unmatched = await running.adminGet('/explain?method=DELETE&path=/api/catalog/7');
    expect(unmatched.body).toMatchObject({ route: 'unmatched', target: 'legacy', reason: 'unmatched' });

    const routes = await running.adminGet('/routes');
    expect(routes.body.routes.map((route: { id: string }) => route.id)).toEqual(['orders', 'payments', 'catalog']);
    expect(routes.body.routes[0]).toMatchObject({ flag: 'orders.on', rolloutPercent: 100, circuit: 'closed' });
    expect(routes.body.routes[0].split.extracted).toBeGreaterThan(0);
    const metrics = await running.adminGet('/metrics');
    expect(metrics.body).toMatch(/strangler_proxy_requests_total\{route="orders",target="extracted",method="GET",code="200"\} \d+/);
    expect(metrics.body).toContain('strangler_proxy_flags_ready 1');
  });

  it('reloads a good config atomically (file change and POST /reload) and keeps the old table on a bad one', async () => {
    const configPath = running.configPath!;
    const current = YAML.parse(fs.readFileSync(configPath, 'utf8'));
    current.routes.push({ id: 'users', order: 40, match: { path: '/api/users/{**rest}' }, cluster: 'orders' });
    fs.writeFileSync(configPath, YAML.stringify(current));
    const moved = await waitFor(() => request(`${running.url}/api/users/1`), (r) => JSON.parse(r.body).side === 'orders', 5000, 100);
    expect(JSON.parse(moved.body).side).toBe('orders');

    const broken = { ...current, routes: [...current.routes, { id: 'users', order: 50, match: { path: '/x' }, cluster: 'nowhere' }] };
    fs.writeFileSync(configPath, YAML.stringify(broken));
    const failed = await fetch(`${running.admin}/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(failed.status).toBe(422);
    const failure = (await failed.json()) as { ok: boolean; error: string };
    expect(failure.ok).toBe(false);
    expect(failure.error).toContain('duplicate route id');
    expect(failure.error).toContain("unknown cluster 'nowhere'");
    expect(JSON.parse((await request(`${running.url}/api/users/2`)).body).side).toBe('orders');
    expect(await running.registry.getSingleMetricAsString('strangler_proxy_config_reload_failed')).toMatch(/strangler_proxy_config_reload_failed 1/);

    fs.writeFileSync(configPath, YAML.stringify(current));
    const ok = await fetch(`${running.admin}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await running.registry.getSingleMetricAsString('strangler_proxy_config_reload_failed')).toMatch(/strangler_proxy_config_reload_failed 0/);
  });

  it('when the extracted service dies: GETs are served by legacy, a POST gets one 502 and nobody sees it twice', async () => {
    await orders.kill();
    const postsBefore = orders.seen.filter((seen) => seen.method === 'POST').length;
    const post = await request(`${running.url}/api/orders/pay`, { method: 'POST', body: '{"id":1}', headers: { 'content-type': 'application/json' } });
    expect(post.status).toBe(502);
    expect(JSON.parse(post.body).error.code).toBe('SFG_PROXY_UPSTREAM_UNAVAILABLE');
    expect(legacy.count('POST', '/api/orders/pay')).toBe(0);
    expect(orders.seen.filter((seen) => seen.method === 'POST').length).toBe(postsBefore);
    for (let i = 0; i < 5; i++) {
      const get = await request(`${running.url}/api/orders/after-kill-${i}`);
      expect(get.status).toBe(200);
      expect(JSON.parse(get.body).side).toBe('legacy');
    }

    // The POST and two GETs were three failures: the breaker opened and legacy answers without trying the dead service.
    const metrics = await running.registry.metrics();
    expect(metrics).toContain('strangler_proxy_circuit_state{cluster="orders"} 2');
    expect(metrics).toContain('strangler_proxy_fallbacks_total{route="orders",reason="connect_error"} 2');
    expect(metrics).toContain('strangler_proxy_fallbacks_total{route="orders",reason="circuit_open"} 3');
  });
});
