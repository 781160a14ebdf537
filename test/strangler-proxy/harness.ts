import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import YAML from 'yaml';
import { parseProxyConfig, StranglerProxy, type FlagProvider } from '../../strangler-proxy';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A real upstream HTTP server standing in for legacy or an extracted service. Every answer names the side.
 * Routes: `/slow/<ms>` waits, `/sse` streams events, `/json/<variant>` returns a
 * body whose fields differ by side; anything else echoes the request. WebSocket connections echo messages.
 */
export class Upstream {
  readonly seen: SeenRequest[] = [];
  /** Requests whose client went away before the answer was sent. */
  aborted = 0;
  private server: http.Server | undefined;
  private wss: WebSocketServer | undefined;
  /** Extra fields merged into /json answers (tests use it to create mismatches). */
  jsonExtra: Record<string, unknown> = {};
  /** Delay added to every answer except /healthz. */
  delayMs = 0;
  /** When set, every request except /healthz is answered with this status. */
  failStatus: number | undefined;
  /** When set, every Nth request except /healthz is answered 503 (N = 20: 5 % of them). */
  failEvery: number | undefined;
  /** When set, sent as the `strangler-written` header (read-your-writes) on every answer to a non-GET request. */
  writtenHeader: string | undefined;
  private answered = 0;
  port = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(readonly side: string) {}

  private later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    const server = http.createServer((req, res) => this.handle(req, res));
    this.wss = new WebSocketServer({ server });
    this.wss.on('connection', (socket, req) => socket.on('message', (data) => socket.send(`${this.side}:${req.url}:${String(data)}`)));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
    return this;
  }

  count(method: string, url: string): number {
    return this.seen.filter((request) => request.method === method && request.url === url).length;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.on('close', () => {
      if (!res.writableFinished) this.aborted += 1;
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = req.url ?? '/';
      this.seen.push({ method: req.method ?? 'GET', url, headers: req.headers, body });
      const send = (status: number, payload: unknown, headers: http.OutgoingHttpHeaders = {}) => {
        const text = JSON.stringify(payload);
        res.writeHead(status, { 'content-type': 'application/json', 'x-side': this.side, ...headers });
        res.end(text);
      };
      const slow = /^\/(?:api\/[^/]+\/)?slow\/(\d+)/.exec(url);
      if (url === '/healthz') return send(200, { ok: true });
      if (url.endsWith('/hop-by-hop')) return send(200, { side: this.side }, { connection: 'keep-alive, x-upstream-hop', 'x-upstream-hop': 'secret', 'x-kept': 'yes' });
      if (url.endsWith('/sse')) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-side': this.side });
        let sent = 0;
        const timer = setInterval(() => {
          res.write(`data: ${this.side}-${sent}\n\n`);
          sent += 1;
          if (sent === 3) {
            clearInterval(timer);
            res.end();
          }
        }, 50);
        return;
      }
      if (url.includes('/json/')) {
        const body = { id: crypto.randomUUID(), at: new Date().toISOString(), servedBy: this.side, total: 42, items: [{ sku: 'a' }, { sku: 'b' }], ...this.jsonExtra };
        return this.later(this.delayMs, () => send(200, body));
      }
      this.answered += 1;
      const failing = this.failEvery !== undefined && this.answered % this.failEvery === 0;
      const written = this.writtenHeader !== undefined && req.method !== 'GET' ? { 'strangler-written': this.writtenHeader } : {};
      const reply = () => send(this.failStatus ?? (failing ? 503 : 200), { side: this.side, method: req.method, url, headers: req.headers, body }, written);
      if (slow) this.later(Number(slow[1]), reply);
      else reply();
    });
  }

  /** Stops the server and cuts every open connection, as a crashed process would. */
  async kill(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const client of this.wss?.clients ?? []) client.terminate();
    this.wss?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * A TCP relay in front of another port that a test can cut (existing connections reset, new ones refused), to make
 * a shared service unreachable without stopping it.
 */
export class CuttableRelay {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<this> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
    return this;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    await this.start();
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}

export const ADMIN_TOKEN = 'test-admin-token';
export const silentLogger = pino({ level: process.env.SFG_TEST_LOG_LEVEL ?? 'silent' });

export interface RunningProxy {
  proxy: StranglerProxy;
  registry: Registry;
  url: string;
  admin: string;
  configPath: string | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- admin answers have many JSON shapes
  adminGet(pathAndQuery: string): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

/** Starts a StranglerProxy on ephemeral ports. With `writeFile`, the config lives in a temp file (for reload tests). */
export async function startProxy(
  config: Record<string, unknown>,
  flags: FlagProvider,
  options: { writeFile?: boolean } = {},
): Promise<RunningProxy> {
  // The flag provider is passed in; the config's `flags` section only has to be valid.
  const full = { proxy: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN }, flags: { provider: 'file' }, ...config };
  let configPath: string | undefined;
  if (options.writeFile) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-proxy-'));
    configPath = path.join(dir, 'proxy.yaml');
    fs.writeFileSync(configPath, YAML.stringify(full));
  }
  const registry = new Registry();
  const proxy = new StranglerProxy({ config: parseProxyConfig(full, {}), configPath, env: {} }, { logger: silentLogger, registry, flags });
  await proxy.start();
  const { proxy: url, admin } = proxy.address;
  return {
    proxy,
    registry,
    url,
    admin: admin!,
    configPath,
    async adminGet(pathAndQuery) {
      const response = await fetch(`${admin}${pathAndQuery}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const text = await response.text();
      return { status: response.status, body: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
    },
    async stop() {
      await proxy.stop();
      if (configPath) fs.rmSync(path.dirname(configPath), { recursive: true, force: true });
    },
  };
}

/** A keep-alive HTTP client that does not go through fetch's connection limits, for load in tests. */
export function request(
  url: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string; agent?: http.Agent } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function inParallel<T, R>(items: T[], concurrency: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index]!);
      }
    }),
  );
  return results;
}

/** Polls until `accept` takes the probed value; fails with the last value seen once `timeoutMs` has passed. */
export async function waitFor<T>(probe: () => Promise<T> | T, accept: (value: T) => boolean, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`waitFor: not accepted after ${timeoutMs} ms; last value: ${describe(value)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 500) ?? String(value);
  } catch {
    return String(value);
  }
}

export function sideOf(body: string): string {
  return (JSON.parse(body) as { side: string }).side;
}
