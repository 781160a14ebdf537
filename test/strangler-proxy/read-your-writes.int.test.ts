import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { AppliedEvents, appliedEventsHandler, formatWritten, WRITTEN_HEADER } from '../../outbox';
import { FileFlagProvider } from '../../strangler-proxy';
import { createOutboxDatabase } from '../outbox/support';
import type { TestDatabase } from '../helpers';
import { request, silentLogger, startProxy, type RunningProxy } from './harness';

/** A small side: answers writes with the events they "wrote", and reads from its own table of applied orders. */
class Side {
  server: http.Server | undefined;
  port = 0;
  constructor(
    readonly origin: string,
    private readonly handle: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  ) {}
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  async start(): Promise<this> {
    this.server = http.createServer((req, res) => (req.url === '/healthz' ? res.end('ok') : this.handle(req, res)));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/**
 * Read-your-writes across sides with the real proxy and a real Postgres inbox: orders are written on the orders
 * side, read on legacy, which has them only once its inbox applied the orders side's event.
 */
describe('read-your-writes across sides (proxy consistency, AppliedEvents on a real inbox)', () => {
  let db: TestDatabase;
  let applied: AppliedEvents;
  let running: RunningProxy;
  let flagDir: string;
  const events: string[] = [];

  const legacy = new Side('legacy', (req, res) => {
    appliedEventsHandler(applied)(req, res, () => {
      const id = /^\/api\/orders\/([\w-]+)$/.exec(req.url ?? '')?.[1];
      void db.pool.query('select id from legacy_orders where id = $1', [id]).then(({ rowCount }) => {
        res.writeHead(rowCount ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id, found: Boolean(rowCount) }));
      });
    });
  });
  const orders = new Side('orders', (req, res) => {
    req.resume();
    req.on('end', () => {
      const orderId = randomUUID();
      const eventId = randomUUID();
      events.push(eventId);
      res.writeHead(201, { 'content-type': 'application/json', [WRITTEN_HEADER]: formatWritten('order', eventId, 'orders') });
      res.end(JSON.stringify({ id: orderId, eventId }));
    });
  });
  const bare = new Side('bare', (_req, res) => {
    res.writeHead(404);
    res.end();
  });

  /** What legacy's inbox consumer does: the row and the inbox claim in one transaction, with the consumer's NOTIFY. */
  async function applyOnLegacy(orderId: string, eventId: string): Promise<void> {
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await client.query('insert into inbox (consumer, event_id) values ($1, $2)', ['legacy-sync', eventId]);
      await client.query('insert into legacy_orders (id) values ($1)', [orderId]);
      await client.query("select pg_notify('strangler_inbox', 'legacy-sync')");
      await client.query('commit');
    } finally {
      client.release();
    }
  }

  const waits = async (outcome: string) => {
    const text = await running.registry.getSingleMetricAsString('strangler_proxy_consistency_waits_total');
    return Number(new RegExp(`route="[^"]+",outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  };

  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_ryw');
    await db.pool.query('create table legacy_orders (id uuid primary key)');
    applied = new AppliedEvents({ connectionString: db.url, pool: db.pool, aggregateTypes: ['order'], origin: 'legacy' }, silentLogger);
    await applied.start();
    await Promise.all([legacy.start(), orders.start(), bare.start()]);
    flagDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-ryw-'));
    fs.writeFileSync(path.join(flagDir, 'flags.yaml'), YAML.stringify({ flags: {} }));
    const flags = new FileFlagProvider({ path: path.join(flagDir, 'flags.yaml'), pollIntervalMs: 500 }, { logger: silentLogger });
    running = await startProxy(
      {
        clusters: { legacy: { url: legacy.url }, orders: { url: orders.url }, bare: { url: bare.url } },
        consistency: { enabled: true, waitMs: 1_500 },
        routes: [
          { id: 'place', order: 10, match: { path: '/api/orders', methods: ['POST'] }, cluster: 'orders' },
          { id: 'bare', order: 20, match: { path: '/api/bare/{**rest}' }, cluster: 'bare' },
        ],
      },
      flags,
    );
  });
  afterAll(async () => {
    await running?.stop();
    await Promise.all([legacy.stop(), orders.stop(), bare.stop()]);
    await applied?.stop();
    await db?.drop();
    fs.rmSync(flagDir, { recursive: true, force: true });
  });

  const place = async (user: string) => {
    const response = await request(`${running.url}/api/orders`, { method: 'POST', headers: { 'x-user-id': user, 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(201);
    return JSON.parse(response.body) as { id: string; eventId: string };
  };
  const read = async (user: string, orderId: string) => {
    const started = performance.now();
    const response = await request(`${running.url}/api/orders/${orderId}`, { headers: { 'x-user-id': user } });
    return { status: response.status, ms: performance.now() - started };
  };

  it("holds the writer's read on the other side until that side has applied the write, then serves it", async () => {
    const order = await place('ann');
    const reading = read('ann', order.id);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await applyOnLegacy(order.id, order.eventId);
    const answer = await reading;
    expect(answer.status).toBe(200);
    expect(answer.ms).toBeGreaterThanOrEqual(290);
    expect(answer.ms).toBeLessThan(1_500);
    expect(await waits('applied')).toBe(1);
    // Applied once is applied: the next read does not wait.
    const again = await read('ann', order.id);
    expect(again.status).toBe(200);
    expect(await waits('applied')).toBe(1);
  });

  it("does not hold another user's read, who never wrote it", async () => {
    const order = await place('bob');
    const other = await read('cyd', order.id);
    expect(other.status).toBe(404);
    expect(other.ms).toBeLessThan(300);
    await applyOnLegacy(order.id, order.eventId);
  });

  it('goes on after waitMs when the write never arrives, and counts the timeout', async () => {
    const order = await place('dan');
    const answer = await read('dan', order.id);
    expect(answer.status).toBe(404);
    expect(answer.ms).toBeGreaterThanOrEqual(1_450);
    expect(await waits('timeout')).toBe(1);
  });

  it('counts a cluster without the applied endpoint as unsupported and serves the request at once', async () => {
    await place('eve');
    const response = await request(`${running.url}/api/bare/x`, { headers: { 'x-user-id': 'eve' } });
    expect(response.status).toBe(404);
    expect(await waits('unsupported')).toBe(1);
  });

  it('answers the applied endpoint with 400 naming the bad parameter, and ignores events a side wrote itself or does not apply', async () => {
    const bad = await request(`${legacy.url}/_strangler/applied?events=not-an-event&waitMs=0`);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.message).toMatch(/^events: "not-an-event" is not <aggregatetype>:<event uuid>/);
    const badWait = await request(`${legacy.url}/_strangler/applied?events=order:${randomUUID()}&waitMs=soon`);
    expect(JSON.parse(badWait.body).error.message).toMatch(/^waitMs: must be an integer/);
    const own = formatWritten('order', randomUUID(), 'legacy');
    const notApplied = formatWritten('payment', randomUUID(), 'payments');
    const answer = await request(`${legacy.url}/_strangler/applied?events=${encodeURIComponent(`${own},${notApplied}`)}&waitMs=0`);
    expect(JSON.parse(answer.body)).toEqual({ applied: true });
    const missing = randomUUID();
    const late = await request(`${legacy.url}/_strangler/applied?events=order:${missing}@orders&waitMs=0`);
    expect(JSON.parse(late.body)).toEqual({ applied: false, missing: [missing] });
  });
});
