import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { LegacyMonolith, type AggregateType, type ModuleName } from '../../legacy-monolith';
import { Auth, DEMO_JWT_SECRET, type HttpApplication } from '../../service-kit';
import { createCatalogService, type PublicProduct } from '../../extracted/catalog';
import { createOrdersService } from '../../extracted/orders';
import { createPaymentsService } from '../../extracted/payments';
import { createUsersService } from '../../extracted/users';
import { createTestDatabase, type TestDatabase } from '../helpers';

export const silentLogger = pino({ level: 'silent' });

/** Both sides share this secret in the tests, as they share JWT_SECRET in production. */
export const auth = new Auth({ jwtSecret: DEMO_JWT_SECRET, tokenTtlSeconds: 600 });

interface Started {
  app: HttpApplication;
  database: TestDatabase;
}

/** The processes a target needs besides itself, each on its own database, by name; `peers` gives their URLs. */
export interface TargetDefinition {
  name: string;
  modules: readonly ModuleName[];
  /** Services this one calls (orders: catalog and payments), started first. */
  peers?: readonly Exclude<TargetName, 'legacy'>[];
  create(databaseUrl: string, peers: Partial<Record<TargetName, string>>): HttpApplication;
}

type TargetName = 'legacy' | 'users' | 'catalog' | 'payments' | 'orders';

const deps = () => ({ logger: silentLogger, registry: new Registry() });
const appOptions = (databaseUrl: string) => ({ port: 0, databaseUrl, poolSize: 4, drainMs: 1_000 });

const DEFINITIONS: Record<TargetName, TargetDefinition> = {
  legacy: { name: 'legacy-monolith', modules: ['users', 'catalog', 'payments', 'orders'], create: (url) => new LegacyMonolith(appOptions(url), deps()) },
  users: { name: 'users service', modules: ['users'], create: (url) => createUsersService(appOptions(url), deps()) },
  catalog: { name: 'catalog service', modules: ['catalog'], create: (url) => createCatalogService(appOptions(url), deps()) },
  payments: { name: 'payments service', modules: ['payments'], create: (url) => createPaymentsService(appOptions(url), deps()) },
  orders: {
    name: 'orders service',
    modules: ['orders'],
    peers: ['catalog', 'payments'],
    create: (url, peers) => createOrdersService({ ...appOptions(url), catalogUrl: peers.catalog!, paymentsUrl: peers.payments! }, deps()),
  },
};
export const TARGETS = Object.values(DEFINITIONS);

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

async function startOne(definition: TargetDefinition, peers: Partial<Record<TargetName, string>>): Promise<Started> {
  const database = await createTestDatabase('sfg_contract');
  const app = definition.create(database.url, peers);
  try {
    await app.start();
  } catch (error) {
    await app.stop();
    await database.drop();
    throw error;
  }
  return { app, database };
}

/** Which started process writes an aggregate for a target: the monolith writes all four; a service calls its peers. */
const WRITER: Record<AggregateType, TargetName> = { user: 'users', product: 'catalog', payment: 'payments', order: 'orders' };

/** One running target with its own database, the peers it calls (each on its own), and the fixtures the suite needs. */
export class RunningTarget {
  readonly api: ApiClient;

  private constructor(
    readonly definition: TargetDefinition,
    private readonly self: Started,
    private readonly peers: Map<TargetName, Started>,
  ) {
    this.api = new ApiClient(self.app.url);
  }

  get app(): HttpApplication {
    return this.self.app;
  }

  get database(): TestDatabase {
    return this.self.database;
  }

  static async start(definition: TargetDefinition): Promise<RunningTarget> {
    const peers = new Map<TargetName, Started>();
    try {
      for (const name of definition.peers ?? []) peers.set(name, await startOne(DEFINITIONS[name], {}));
      const self = await startOne(definition, Object.fromEntries([...peers].map(([name, started]) => [name, started.app.url])));
      return new RunningTarget(definition, self, peers);
    } catch (error) {
      for (const started of peers.values()) await Promise.all([started.app.stop().then(() => started.database.drop())]);
      throw error;
    }
  }

  async stop(): Promise<void> {
    for (const started of [this.self, ...this.peers.values()]) {
      await started.app.stop();
      await started.database.drop();
    }
  }

  /** The outbox events of one aggregate, from the database of the process that wrote it. */
  async events(aggregateType: AggregateType, aggregateId: string): Promise<{ type: string; origin: string; version: string }[]> {
    const writer = this.peers.get(WRITER[aggregateType]) ?? this.self;
    const { rows } = await writer.database.pool.query(
      `select type, headers->>'origin' as origin, headers->>'version' as version from outbox where aggregateid = $1 order by created_at, type`,
      [aggregateId],
    );
    return rows;
  }

  /** The API that serves products for this target: its own, or its catalog peer's. */
  private get catalogApi(): ApiClient | undefined {
    if (this.definition.modules.includes('catalog')) return this.api;
    const peer = this.peers.get('catalog');
    return peer ? new ApiClient(peer.app.url) : undefined;
  }

  /**
   * A user with a valid token. Where the target serves /api/users the user registers and logs in through the
   * API; elsewhere the token is issued with the shared secret (auth continuity: it could come from any side).
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
    const id = randomUUID();
    return { id, email, password, token: auth.issue({ id, email }) };
  }

  /** A product with `stock` units at `priceCents`, created through the API that serves products here. */
  async product(token: string, stock = 10, priceCents = 1250, currency = 'EUR'): Promise<PublicProduct> {
    const input = { sku: `SKU-${randomUUID().slice(0, 8).toUpperCase()}`, name: 'Teapot', priceCents, currency, stock };
    const api = this.catalogApi;
    if (!api) throw new Error(`${this.definition.name} has no products`);
    const created = await api.request<PublicProduct>('POST', '/api/products', { body: input, token });
    if (created.status !== 201) throw new Error(`create product: ${created.status} ${JSON.stringify(created.body)}`);
    return created.body;
  }

  async stockOf(productId: string): Promise<number> {
    const answer = await this.catalogApi!.request<{ stock: number }>('GET', `/api/products/${productId}`);
    return answer.body.stock;
  }
}

export const APPROVED_CARD = { number: '4242424242424242', expMonth: 12, expYear: 2030, cvc: '123' };
export const DECLINED_CARD = { ...APPROVED_CARD, number: '4000000000000002' };
