import { randomUUID } from 'node:crypto';

const APPROVED = { number: '4242424242424242', expMonth: 12, expYear: 2030, cvc: '123' };
const DECLINED = { ...APPROVED, number: '4000000000000002' };

/** Statuses that are intended business answers, not failures: a declined card, stock running out. */
const INTENDED = new Set([402, 409]);

interface Outcome {
  requests: number;
  unexpected: number;
  examples: string[];
}

/** Counts of answers per `METHOD route status`, and the unexpected ones with a few examples. */
export class TrafficSummary {
  readonly counts = new Map<string, number>();
  private readonly outcome: Outcome = { requests: 0, unexpected: 0, examples: [] };
  readonly startedAt = Date.now();

  record(label: string, status: number, detail: string): void {
    const key = `${label} ${status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.outcome.requests += 1;
    if (status >= 400 && !INTENDED.has(status)) {
      this.outcome.unexpected += 1;
      if (this.outcome.examples.length < 10) this.outcome.examples.push(`${key}: ${detail}`);
    }
  }

  requests(): number {
    return this.outcome.requests;
  }

  unexpected(): number {
    return this.outcome.unexpected;
  }

  examples(): string[] {
    return [...this.outcome.examples];
  }

  line(): string {
    const seconds = Math.max(1, (Date.now() - this.startedAt) / 1000);
    const byStatus = new Map<string, number>();
    for (const [key, count] of this.counts) {
      const status = key.slice(key.lastIndexOf(' ') + 1);
      byStatus.set(status, (byStatus.get(status) ?? 0) + count);
    }
    const statuses = [...byStatus].sort().map(([status, count]) => `${status}:${count}`).join(' ');
    return `${this.outcome.requests} requests, ${(this.outcome.requests / seconds).toFixed(1)}/s, unexpected ${this.outcome.unexpected} | ${statuses}`;
  }

  table(): string {
    const rows = [...this.counts].sort(([a], [b]) => a.localeCompare(b));
    const width = Math.max(...rows.map(([key]) => key.length), 10);
    return [...rows.map(([key, count]) => `${key.padEnd(width)}  ${count}`), this.line(), ...this.examples().map((example) => `  unexpected: ${example}`)].join('\n');
  }
}

/** A product at or below this stock is restocked by the shopper who sees it, so orders never run dry. */
const RESTOCK_BELOW = 20;
const RESTOCK_BY = 200;

/** A token is renewed this long before it expires, so no request carries an expired one. */
const RENEW_BEFORE_EXPIRY_MS = 60_000;

/** When a JWT stops being accepted (its `exp`), in ms; Infinity when it has none. */
function tokenExpiresAt(token: string): number {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity;
  } catch {
    return Infinity;
  }
}

class Shopper {
  private token = '';
  private tokenExpiresAt = Infinity;
  private credentials?: { email: string; password: string };
  /** Not before this moment (sign-up replicates to the other side first). */
  readyAt = 0;
  /** Cookies the proxy set (its session cookie keeps an anonymous shopper on one side), sent back like a browser. */
  private readonly cookies = new Map<string, string>();

  constructor(
    private readonly proxyUrl: string,
    private readonly summary: TrafficSummary,
    /** Products some shopper is restocking right now, shared by all, so one low product is restocked once. */
    private readonly restocking: Set<string>,
  ) {}

  private async call<T>(label: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    let status = 0;
    let text = '';
    try {
      const response = await fetch(`${this.proxyUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      for (const cookie of response.headers.getSetCookie()) {
        const [pair] = cookie.split(';');
        const separator = pair!.indexOf('=');
        if (separator > 0) this.cookies.set(pair!.slice(0, separator).trim(), pair!.slice(separator + 1).trim());
      }
      status = response.status;
      text = await response.text();
    } catch (error) {
      text = (error as Error).message;
    }
    this.summary.record(`${method} ${label}`, status, text.slice(0, 200));
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status, body: parsed as T };
  }

  async signUp(): Promise<boolean> {
    const email = `shopper-${randomUUID()}@shop.test`;
    const password = 'shopping-spree';
    const registered = await this.call('/api/users', 'POST', '/api/users', { email, name: 'Shopper', password });
    if (registered.status !== 201) return false;
    this.credentials = { email, password };
    return this.logIn();
  }

  private async logIn(): Promise<boolean> {
    const login = await this.call<{ token: string }>('/api/users/login', 'POST', '/api/users/login', this.credentials);
    const token = login.body?.token;
    if (!token) return false;
    this.token = token;
    this.tokenExpiresAt = tokenExpiresAt(token);
    return true;
  }

  /** Logs in again shortly before the token expires (it lives an hour), as a client app refreshes its session. */
  async renewIfExpiring(now = Date.now()): Promise<void> {
    if (this.credentials && now >= this.tokenExpiresAt - RENEW_BEFORE_EXPIRY_MS) await this.logIn();
  }

  get signedUp(): boolean {
    return this.token !== '';
  }

  /** Orders placed, looked at again (with their payment) once `revisitAfterMs` has passed, as a customer would later. */
  private readonly placed: { id: string; paymentId: string; at: number }[] = [];

  /** One visit: revisit older orders (maybe cancel one), browse, look at a product, maybe order (some cards decline). */
  async visit(random: () => number, revisitAfterMs: number, mix: TrafficMix): Promise<void> {
    await this.renewIfExpiring();
    while (this.placed.length && Date.now() - this.placed[0]!.at >= revisitAfterMs) {
      const order = this.placed.shift()!;
      await this.call('/api/orders/{id}', 'GET', `/api/orders/${order.id}`);
      await this.call('/api/payments/{id}', 'GET', `/api/payments/${order.paymentId}`);
      if (random() < mix.cancelShare) await this.call('/api/orders/{id}/cancel', 'POST', `/api/orders/${order.id}/cancel`);
    }
    const products = await this.call<{ id: string; stock: number }[]>('/api/products', 'GET', '/api/products?limit=50');
    const low = mix.restock === false ? undefined : (products.body ?? []).find((product) => product.stock <= RESTOCK_BELOW && !this.restocking.has(product.id));
    if (low) {
      this.restocking.add(low.id);
      await this.call('/api/products/{id}/stock', 'POST', `/api/products/${low.id}/stock`, { delta: RESTOCK_BY }).finally(() => this.restocking.delete(low.id));
    }
    const inStock = (products.body ?? []).filter((product) => product.stock > 2);
    if (inStock.length === 0) return;
    const product = inStock[Math.floor(random() * inStock.length)]!;
    await this.call('/api/products/{id}', 'GET', `/api/products/${product.id}`);
    if (random() < 0.2) await this.call('/api/users/me', 'GET', '/api/users/me');
    if (random() < 0.3) await this.call('/api/orders', 'GET', '/api/orders?limit=10');
    if (random() >= mix.orderShare) return;
    const card = random() < 0.1 ? DECLINED : APPROVED;
    const order = await this.call<{ id: string; paymentId: string }>('/api/orders', 'POST', '/api/orders', { items: [{ productId: product.id, quantity: 1 + Math.floor(random() * 2) }], card });
    if (order.status !== 201) return;
    this.placed.push({ ...order.body, at: Date.now() });
  }
}

/** Shares of writes: visits that place an order, revisited orders that get cancelled. Both 0 = browse only. */
export interface TrafficMix {
  orderShare: number;
  cancelShare: number;
  /** Restock products that run low (default true); off while a test counts one product's stock. */
  restock?: boolean;
}

export interface TrafficOptions {
  proxyUrl: string;
  /** Requests in flight at once: each of these workers takes its turn with the shoppers it serves. */
  concurrency: number;
  /**
   * Distinct signed-up users (default 200). Rollouts are sticky per user, so a 10 % rollout needs many users to show
   * about 10 %: with 200, it holds 20 ± 4 of them.
   */
  shoppers?: number;
  signal: AbortSignal;
  /** Where to draw the live summary line (a TTY gets it redrawn in place); omit for none. */
  live?: NodeJS.WriteStream;
  /** Pause between one shopper's visits. */
  thinkTimeMs?: number;
  /**
   * How long after placing an order a shopper looks at it and its payment again and maybe cancels it (default
   * 2000); also the pause after signing up. The payment may have been written by the orders service while
   * /api/payments is still served by legacy, and a flip may move the shopper to the other side between two
   * requests: a follow-up sooner than sync delivers the write (typically well under a second) would be a 404
   * caused by replication lag, not an error of either side.
   */
  revisitAfterMs?: number;
  /** What shoppers write, read on every visit (so it can change while traffic runs); default 0.5 and 0.3. */
  mix?: TrafficMix;
  random?: () => number;
}

export const DEFAULT_SHOPPERS = 200;
export const DEFAULT_MIX: TrafficMix = { orderShare: 0.5, cancelShare: 0.3 };

/**
 * Realistic mixed shop traffic through the proxy until `signal` aborts: `shoppers` users, served in turn by
 * `concurrency` workers. Each shopper signs up on its first turn, then keeps visiting (browse, order with approved
 * or declined cards, cancel, restock what runs low). Resolves with the summary.
 */
export async function runTraffic(options: TrafficOptions): Promise<TrafficSummary> {
  const summary = new TrafficSummary();
  const random = options.random ?? Math.random;
  const live = options.live;
  const timer = live
    ? setInterval(() => live.write(live.isTTY ? `\r${summary.line()}\u001b[K` : `${summary.line()}\n`), 1_000)
    : undefined;
  timer?.unref();
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const revisitAfterMs = options.revisitAfterMs ?? 2_000;
  const mix = () => options.mix ?? DEFAULT_MIX;
  const restocking = new Set<string>();
  const shoppers = Array.from({ length: Math.max(options.shoppers ?? DEFAULT_SHOPPERS, options.concurrency) }, () => new Shopper(options.proxyUrl, summary, restocking));
  // Worker w serves shoppers w, w + concurrency, ...: a shopper is never in two requests at once.
  const workers = Array.from({ length: options.concurrency }, async (_, worker) => {
    const mine = shoppers.filter((_, index) => index % options.concurrency === worker);
    for (let turn = 0; !options.signal.aborted; turn++) {
      const shopper = mine[turn % mine.length]!;
      if (!shopper.signedUp) {
        if (await shopper.signUp()) shopper.readyAt = Date.now() + revisitAfterMs;
        else await pause(500);
        continue;
      }
      if (Date.now() < shopper.readyAt) {
        if (mine.every((other) => !other.signedUp || Date.now() < other.readyAt)) await pause(100);
        continue;
      }
      await shopper.visit(random, revisitAfterMs, mix());
      if (options.thinkTimeMs) await pause(options.thinkTimeMs);
    }
  });
  await Promise.all(workers);
  if (timer) clearInterval(timer);
  if (live?.isTTY) live.write('\n');
  return summary;
}
