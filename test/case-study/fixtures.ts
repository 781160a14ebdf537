import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { saveAggregate, type Product, type User } from '../../extracted/common/aggregates';
import { Auth } from '../../extracted/common/auth';
import { DEMO_JWT_SECRET } from '../../extracted/common/options';
import { createMonolith, type ModuleName, type ShopApplication } from '../../legacy-monolith';
import { createCatalogService } from '../../extracted/catalog';
import { createOrdersService } from '../../extracted/orders';
import { createPaymentsService } from '../../extracted/payments';
import { createUsersService } from '../../extracted/users';
import { createTestDatabase, type TestDatabase } from '../helpers';

export const silentLogger = pino({ level: 'silent' });

/** Both sides share this secret in the tests, as they share JWT_SECRET in production. */
export const auth = new Auth({ jwtSecret: DEMO_JWT_SECRET, tokenTtlSeconds: 600 });

export interface TargetDefinition {
  name: string;
  modules: readonly ModuleName[];
  create(databaseUrl: string): ShopApplication;
}

const deps = () => ({ logger: silentLogger, registry: new Registry() });
const appOptions = (databaseUrl: string) => ({ port: 0, databaseUrl, poolSize: 4, drainMs: 1_000 });

export const TARGETS: TargetDefinition[] = [
  { name: 'legacy-monolith', modules: ['users', 'catalog', 'payments', 'orders'], create: (url) => createMonolith(appOptions(url), deps()) },
  { name: 'users service', modules: ['users'], create: (url) => createUsersService(appOptions(url), deps()) },
  { name: 'catalog service', modules: ['catalog'], create: (url) => createCatalogService(appOptions(url), deps()) },
  { name: 'payments service', modules: ['payments'], create: (url) => createPaymentsService(appOptions(url), deps()) },
  { name: 'orders service', modules: ['orders'], create: (url) => createOrdersService(appOptions(url), deps()) },
];

export function targetsServing(module: ModuleName): TargetDefinition[] {
  return TARGETS.filter((target) => target.modules.includes(module));
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

/** A tiny JSON client for one base URL. */
export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async request<T = Record<string, unknown>>(method: string, path: string, options: { body?: unknown; token?: string; raw?: string } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined || options.raw !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
}

/** One running target with its own database and the fixtures the suite needs. */
export class RunningTarget {
  readonly api: ApiClient;

  private constructor(
    readonly definition: TargetDefinition,
    readonly database: TestDatabase,
    readonly app: ShopApplication,
  ) {
    this.api = new ApiClient(app.url);
  }

  static async start(definition: TargetDefinition): Promise<RunningTarget> {
    const database = await createTestDatabase('sfg_contract');
    const app = definition.create(database.url);
    try {
      await app.start();
    } catch (error) {
      await app.stop();
      await database.drop();
      throw error;
    }
    return new RunningTarget(definition, database, app);
  }

  async stop(): Promise<void> {
    await this.app.stop();
    await this.database.drop();
  }

  /**
   * A user with a valid token. Where the target serves /api/users the user registers and logs in through the
   * API; elsewhere the user is stored as a sync replica would store it and the token is issued with the shared
   * secret (auth continuity: it could have come from the other side).
   */
  async user(): Promise<{ id: string; email: string; token: string; password: string }> {
    const email = `${randomUUID()}@example.test`;
    const password = 'correct horse battery';
    if (this.definition.modules.includes('users')) {
      const registered = await this.api.request<{ id: string }>('POST', '/api/users', { body: { email, name: 'Ada', password } });
      if (registered.status !== 201) throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`);
      const login = await this.api.request<{ token: string }>('POST', '/api/users/login', { body: { email, password } });
      return { id: registered.body.id, email, password, token: login.body.token };
    }
    const now = new Date().toISOString();
    const user: User = { id: randomUUID(), email, name: 'Ada', passwordHash: 'scrypt$00$00', version: 1, createdAt: now, updatedAt: now };
    await saveAggregate(this.database.pool, 'user', user, 'legacy');
    return { id: user.id, email, password, token: auth.issue(user) };
  }

  /** A product with `stock` units at `priceCents`, through the API where the target serves it, else as a replica. */
  async product(token: string, stock = 10, priceCents = 1250, currency = 'EUR'): Promise<Product> {
    const input = { sku: `SKU-${randomUUID().slice(0, 8).toUpperCase()}`, name: 'Teapot', priceCents, currency, stock };
    if (this.definition.modules.includes('catalog')) {
      const created = await this.api.request<Product>('POST', '/api/products', { body: input, token });
      if (created.status !== 201) throw new Error(`create product: ${created.status} ${JSON.stringify(created.body)}`);
      return created.body;
    }
    const now = new Date().toISOString();
    const product: Product = { id: randomUUID(), ...input, version: 1, createdAt: now, updatedAt: now };
    await saveAggregate(this.database.pool, 'product', product, 'legacy');
    return product;
  }
}

export const APPROVED_CARD = { number: '4242424242424242', expMonth: 12, expYear: 2030, cvc: '123' };
export const DECLINED_CARD = { ...APPROVED_CARD, number: '4000000000000002' };
