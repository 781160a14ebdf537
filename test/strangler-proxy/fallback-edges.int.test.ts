import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { FileFlagProvider } from '../../strangler-proxy';
import { freePort } from '../helpers';
import { request, silentLogger, startProxy, Upstream, type RunningProxy } from './harness';

/**
 * A raw HTTP/1.1 upstream that resets connections: with `resetFrom: 1` every request is read and then answered with
 * a TCP reset; with `resetFrom: 2` each connection's first request gets a keep-alive 200 and any later request on
 * that connection a reset (an upstream closing an idle pooled connection just as the proxy reuses it).
 */
class ResettingUpstream {
  readonly seen: string[] = [];
  private readonly server = net.createServer((socket) => this.serve(socket));
  port = 0;

  constructor(private readonly resetFrom: 1 | 2) {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  count(method: string): number {
    return this.seen.filter((line) => line.startsWith(`${method} `)).length;
  }

  private serve(socket: net.Socket): void {
    let buffered = '';
    let served = 0;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.slice(0, end);
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        const requestLine = head.slice(0, head.indexOf('\r\n'));
        if (requestLine.startsWith('GET /healthz ')) {
          // The proxy's health probe: answered, then the connection closes, so it never counts as a reuse.
          socket.end('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
          return;
        }
        this.seen.push(requestLine);
        served += 1;
        if (served >= this.resetFrom) {
          socket.resetAndDestroy();
          return;
        }
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: keep-alive\r\ncontent-length: 19\r\n\r\n{"side":"resetter"}');
      }
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Fallback and retry at their edges: timeouts, dropped keep-alive connections, HEAD and OPTIONS. */
describe('strangler proxy fallback edges (real sockets)', () => {
  const legacy = new Upstream('legacy');
  const slow = new Upstream('slow');
  const alwaysReset = new ResettingUpstream(1);
  const resetOnReuse = new ResettingUpstream(2);
  let flagDir: string;
  let flags: FileFlagProvider;
  let running: RunningProxy;
  const agent = new http.Agent({ keepAlive: false });

  beforeAll(async () => {
    await Promise.all([legacy.start(), slow.start(), alwaysReset.start(), resetOnReuse.start()]);
    const deadPort = await freePort();
    flagDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-edges-'));
    const flagFile = path.join(flagDir, 'flags.yaml');
    fs.writeFileSync(flagFile, YAML.stringify({ flags: { 'edges.on': true } }));
    flags = new FileFlagProvider({ path: flagFile, pollIntervalMs: 200 }, { logger: silentLogger });
    let order = 0;
    const route = (id: string, cluster: string, extra: Record<string, unknown> = {}) => ({ id, order: (order += 10), match: { path: `/api/${id}/{**rest}` }, cluster, flag: 'edges.on', ...extra });
    running = await startProxy(
      {
        clusters: {
          legacy: { url: legacy.url },
          slow: { url: slow.url, responseTimeoutMs: 300 },
          reset: { url: alwaysReset.url, circuit: { failureThreshold: 1000, openMs: 1000 } },
          reuse: { url: resetOnReuse.url, circuit: { failureThreshold: 1000, openMs: 1000 } },
          down: { url: `http://127.0.0.1:${deadPort}`, circuit: { failureThreshold: 1000, openMs: 1000 } },
        },
        routes: [
          route('slow', 'slow'),
          route('reset', 'reset', { fallback: 'never' }),
          route('reuse', 'reuse', { fallback: 'never' }),
          route('down', 'down'),
        ],
      },
      flags,
    );
  });

  afterAll(async () => {
    await running.stop();
    await Promise.all([legacy.kill(), slow.kill(), alwaysReset.stop(), resetOnReuse.stop()]);
    fs.rmSync(flagDir, { recursive: true, force: true });
  });

  const fallbacks = async (route: string, reason: string) => {
    const { values } = await running.registry.getSingleMetric('strangler_proxy_fallbacks_total')!.get();
    return values.find((value) => value.labels.route === route && value.labels.reason === reason)?.value ?? 0;
  };

  it('falls back to legacy with reason="timeout" when a GET gets no headers in time, and answers a POST 504', async () => {
    const get = await request(`${running.url}/api/slow/slow/1000`, { agent });
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body).side).toBe('legacy');
    expect(await fallbacks('slow', 'timeout')).toBe(1);

    const post = await request(`${running.url}/api/slow/slow/1000`, { method: 'POST', body: '{}', agent });
    expect(post.status).toBe(504);
    expect(legacy.count('POST', '/api/slow/slow/1000')).toBe(0);
    expect(await fallbacks('slow', 'timeout')).toBe(1);
  });

  it('sends a GET twice and a POST once to an upstream that resets the connection, then answers 502', async () => {
    const get = await request(`${running.url}/api/reset/item`, { agent });
    expect(get.status).toBe(502);
    expect(alwaysReset.count('GET')).toBe(2);

    const post = await request(`${running.url}/api/reset/item`, { method: 'POST', body: '{"n":1}', headers: { 'content-type': 'application/json' }, agent });
    expect(post.status).toBe(502);
    expect(alwaysReset.count('POST')).toBe(1);

    // HEAD is as safe as GET: repeated once; OPTIONS with a body is not repeated.
    const head = await request(`${running.url}/api/reset/item`, { method: 'HEAD', agent });
    expect(head.status).toBe(502);
    expect(alwaysReset.count('HEAD')).toBe(2);
    const options = await request(`${running.url}/api/reset/item`, { method: 'OPTIONS', body: 'x', headers: { 'content-length': '1' }, agent });
    expect(options.status).toBe(502);
    expect(alwaysReset.count('OPTIONS')).toBe(1);
    expect(legacy.seen.filter((seen) => seen.url === '/api/reset/item')).toEqual([]);
  });

  it('repeats a GET once on a fresh connection when a reused keep-alive connection was reset, and answers it', async () => {
    const first = await request(`${running.url}/api/reuse/a`, { agent });
    expect([first.status, JSON.parse(first.body).side]).toEqual([200, 'resetter']);
    // The proxy pools the connection; the upstream resets it on the next request, so the GET goes again, once.
    const second = await request(`${running.url}/api/reuse/b`, { agent });
    expect([second.status, JSON.parse(second.body).side]).toEqual([200, 'resetter']);
    expect(resetOnReuse.seen).toEqual(['GET /api/reuse/a HTTP/1.1', 'GET /api/reuse/b HTTP/1.1', 'GET /api/reuse/b HTTP/1.1']);
  });

  it('falls back to legacy for HEAD and bodyless OPTIONS when the extracted side is down, never for OPTIONS with a body or DELETE', async () => {
    const head = await request(`${running.url}/api/down/x`, { method: 'HEAD', agent });
    expect(head.status).toBe(200);
    expect(head.headers['x-side']).toBe('legacy');
    const options = await request(`${running.url}/api/down/x`, { method: 'OPTIONS', agent });
    expect(options.status).toBe(200);
    expect(JSON.parse(options.body).side).toBe('legacy');
    expect(await fallbacks('down', 'connect_error')).toBe(2);

    const withBody = await request(`${running.url}/api/down/x`, { method: 'OPTIONS', body: 'x', headers: { 'content-length': '1' }, agent });
    expect([withBody.status, withBody.body]).toEqual([502, expect.any(String)]);
    const remove = await request(`${running.url}/api/down/x`, { method: 'DELETE', agent });
    expect(remove.status).toBe(502);
    expect(legacy.count('OPTIONS', '/api/down/x')).toBe(1);
    expect(legacy.count('DELETE', '/api/down/x')).toBe(0);
    expect(await fallbacks('down', 'connect_error')).toBe(2);
  });
});
