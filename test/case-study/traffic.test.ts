import { eventually } from '../helpers/poll';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runTraffic } from '../../case-study/traffic';

/**
 * A small stand-in for the shop behind the proxy (unit test: the generator's own behaviour). Stock starts at 5 on
 * two products, so without restocking, orders would stop after a handful.
 */
class FakeShop {
  /** Tokens are JWT-shaped with this lifetime; a request with an expired one is answered 401, as the shop does. */
  constructor(private readonly tokenLifetimeSeconds = 3600) {}

  readonly products = [{ id: randomUUID(), stock: 5 }, { id: randomUUID(), stock: 5 }];
  readonly usersSeen = new Set<string>();
  orders = 0;
  restocks = 0;
  logins = 0;
  expiredTokensSeen = 0;
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      const token = req.headers.authorization?.slice('Bearer '.length);
      if (token) {
        const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string; exp: number };
        if (claims.exp * 1000 <= Date.now()) {
          this.expiredTokensSeen += 1;
          res.writeHead(401, { 'content-type': 'application/json' });
          return res.end('{"error":"token expired"}');
        }
        this.usersSeen.add(claims.sub);
      }
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      const url = req.url ?? '/';
      if (req.method === 'POST' && url === '/api/users') return send(201, { id: randomUUID() });
      if (req.method === 'POST' && url === '/api/users/login') {
        this.logins += 1;
        const claims = { sub: body.email as string, exp: Math.floor(Date.now() / 1000) + this.tokenLifetimeSeconds };
        return send(200, { token: ['e30', Buffer.from(JSON.stringify(claims)).toString('base64url'), 'signature'].join('.') });
      }
      if (req.method === 'GET' && url.startsWith('/api/products?')) return send(200, this.products);
      const stock = url.match(/^\/api\/products\/([^/]+)\/stock$/);
      if (req.method === 'POST' && stock) {
        this.restocks += 1;
        const product = this.products.find((candidate) => candidate.id === stock[1])!;
        product.stock += body.delta as number;
        return send(200, product);
      }
      if (req.method === 'POST' && url === '/api/orders') {
        const [item] = body.items as Array<{ productId: string; quantity: number }>;
        const product = this.products.find((candidate) => candidate.id === item!.productId)!;
        if (product.stock < item!.quantity) return send(409, { error: 'out of stock' });
        product.stock -= item!.quantity;
        this.orders += 1;
        return send(201, { id: randomUUID(), paymentId: randomUUID() });
      }
      return send(200, {});
    });
  }
}

describe('demo traffic generator', () => {
  it('serves 200 distinct shoppers by default and keeps placing orders by restocking what runs low', async () => {
    const shop = new FakeShop();
    const proxyUrl = await shop.start();
    const stop = new AbortController();
    try {
      const traffic = runTraffic({ proxyUrl, concurrency: 4, signal: stop.signal, revisitAfterMs: 50 });
      // Wait for many more orders than the initial stock of 10 units could ever allow.
      await eventually(() => shop.orders >= 100 && shop.usersSeen.size >= 200, 20_000, '100 orders from all 200 users', 50);
      stop.abort();
      const summary = await traffic;
      expect(shop.usersSeen.size).toBe(200);
      expect(shop.orders).toBeGreaterThanOrEqual(100);
      expect(shop.restocks).toBeGreaterThan(0);
      expect(summary.unexpected()).toBe(0);
    } finally {
      stop.abort();
      await shop.stop();
    }
  });

  it('logs a shopper in again before its token expires, so a long demo never sends an expired token', async () => {
    // 61 s tokens are renewed within a second or two (a minute before expiry), so each shopper logs in repeatedly.
    const shop = new FakeShop(61);
    const proxyUrl = await shop.start();
    const stop = new AbortController();
    try {
      const traffic = runTraffic({ proxyUrl, concurrency: 2, shoppers: 4, signal: stop.signal, revisitAfterMs: 50, thinkTimeMs: 100 });
      await eventually(() => shop.logins >= 12, 20_000, 'three logins per shopper', 50);
      stop.abort();
      const summary = await traffic;
      expect(shop.usersSeen.size).toBe(4);
      expect(shop.expiredTokensSeen).toBe(0);
      expect(summary.unexpected()).toBe(0);
    } finally {
      stop.abort();
      await shop.stop();
    }
  });
});
