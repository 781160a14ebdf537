import { Client } from 'pg';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { withDatabase } from '../infra';
import { createRelay, ensureTopics } from '../outbox';
import { createDriftGauge, DriftMonitor, openAggregates } from '../sync';
import { createFlagProvider, parseProxyConfig, StranglerProxy, UnleashAdminClient } from '../strangler-proxy';
import { AGGREGATE_TYPES, LegacyMonolith, type AggregateType } from '../legacy-monolith';
import type { HttpApplication } from '../service-kit';
import { CATALOG_ORIGIN, createCatalogService } from '../extracted/catalog';
import { createOrdersService, ORDERS_ORIGIN } from '../extracted/orders';
import { createPaymentsService, PAYMENTS_ORIGIN } from '../extracted/payments';
import { createUsersService, USERS_ORIGIN } from '../extracted/users';
import { caseStudyMapping, ownerOf } from './mapping';
import { SyncConsumer } from './sync-consumer';
import { parseStackOptions, type StackOptions, type StackOptionsInput } from './options';
import { seedLegacy } from './seed';

type ServiceName = 'users' | 'catalog' | 'payments' | 'orders';

interface CommonOptions {
  host: string;
  databaseUrl: string;
  jwtSecret: string;
  drainMs: number;
  port: number;
}

export interface ServiceDefinition {
  /** Service name: also the `origin` of its events and the suffix of its demo database `strangler_<name>`. */
  name: ServiceName;
  /** The aggregate whose data and writes it owns; the monolith sends those writes to it. */
  owns: AggregateType;
  create(options: CommonOptions, peers: (name: ServiceName) => string, registry: Registry, logger: Logger): HttpApplication;
}

/** In start order: orders calls catalog and payments, so they come first. */
export const SERVICES: readonly ServiceDefinition[] = [
  { name: USERS_ORIGIN, owns: 'user', create: (options, _peers, registry, logger) => createUsersService(options, { registry, logger }) },
  { name: CATALOG_ORIGIN, owns: 'product', create: (options, _peers, registry, logger) => createCatalogService(options, { registry, logger }) },
  { name: PAYMENTS_ORIGIN, owns: 'payment', create: (options, _peers, registry, logger) => createPaymentsService(options, { registry, logger }) },
  {
    name: ORDERS_ORIGIN,
    owns: 'order',
    create: (options, peers, registry, logger) => createOrdersService({ ...options, catalogUrl: peers('catalog'), paymentsUrl: peers('payments') }, { registry, logger }),
  },
];

/** The proxy routes of the case study: route id, path prefix, and the service that answers when its flag is on. */
export const SHOP_ROUTES = [
  { id: 'users', path: '/api/users', service: 'users' },
  { id: 'products', path: '/api/products', service: 'catalog' },
  { id: 'payments', path: '/api/payments', service: 'payments' },
  { id: 'orders', path: '/api/orders', service: 'orders' },
] as const;
export type ShopRouteId = (typeof SHOP_ROUTES)[number]['id'];

interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

/** One side of the migration: an app on its own database, the relay of that database, and its sync consumer. */
export interface StackNode {
  origin: string;
  database: string;
  databaseUrl: string;
  app: HttpApplication;
  registry: Registry;
}

async function ensureDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!exists.rowCount) await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
}

/** Before the services had schemas of their own, every database held the monolith's: such a service database cannot be migrated in place. */
export async function refuseSharedSchema(databaseUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query("select to_regclass('strangler_migrations') is not null as ledger");
    if (!rows[0].ledger) return;
    const old = await client.query("select 1 from strangler_migrations where id = 'shop_001_aggregates'");
    if (old.rowCount) throw new Error(`database ${database} holds the monolith's schema from an earlier version of the case study; drop it (dropdb ${database}) and start again: the services now have schemas of their own`);
  } finally {
    await client.end();
  }
}

/**
 * The whole case study in one process: legacy monolith and four services (each with its own database, CDC
 * relay and sync consumer), Unleash flags per route, and the strangler proxy in front. start() brings them up in
 * dependency order; stop() stops them in reverse order and is idempotent.
 */
export class CaseStudyStack {
  readonly options: StackOptions;
  readonly nodes: StackNode[] = [];
  readonly flags: UnleashAdminClient;
  readonly proxyRegistry = new Registry();
  proxy: StranglerProxy | undefined;
  private readonly started: Stoppable[] = [];
  private readonly logger: Logger;
  private stopping: Promise<void> | undefined;

  constructor(options: StackOptionsInput, deps: { logger: Logger }) {
    this.options = parseStackOptions(options);
    this.logger = deps.logger;
    this.flags = new UnleashAdminClient({ url: this.options.unleash.url, adminToken: this.options.unleash.adminToken, project: 'default', environment: 'development' });
  }

  flagName(route: ShopRouteId, kind: 'route' | 'shadow' = 'route'): string {
    return `${this.options.flagPrefix}-${route}${kind === 'shadow' ? '-shadow' : ''}`;
  }

  node(origin: string): StackNode {
    const found = this.nodes.find((node) => node.origin === origin);
    if (!found) throw new Error(`no node ${origin}`);
    return found;
  }

  get proxyUrl(): string {
    return this.proxy!.address.proxy;
  }

  get adminUrl(): string {
    return this.proxy!.address.admin!;
  }

  private track(name: string, part: { stop(): Promise<void> }): void {
    this.started.push({ name, stop: () => part.stop() });
  }

  async start(): Promise<void> {
    const { options } = this;
    try {
      await this.createTopics();
      const peers = (name: ServiceName) => this.node(name).app.url;
      for (const service of SERVICES) {
        await this.startNode(service.name, (common, registry) => service.create({ ...common, port: options.ports[service.name] }, peers, registry, this.logger), [service.owns]);
      }
      const owners = Object.fromEntries(SERVICES.map((service) => [service.owns, peers(service.name)]));
      await this.startNode('legacy', (common, registry) => new LegacyMonolith({ ...common, port: options.ports.legacy, owners }, { logger: this.logger, registry }), AGGREGATE_TYPES);
      for (const route of SHOP_ROUTES) {
        await this.flags.createFlag(this.flagName(route.id), { description: `strangler-fig case study: ${route.path} on the ${route.service} service`, ifMissing: true });
        await this.flags.createFlag(this.flagName(route.id, 'shadow'), { description: `strangler-fig case study: shadow ${route.path} reads to the ${route.service} service`, ifMissing: true });
      }
      await this.startProxy();
      if (options.seed) await seedLegacy(this.node('legacy').app.url, this.logger);
      if (options.driftCheckIntervalMs > 0) await this.startDriftMonitor(options.driftCheckIntervalMs);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Creates the event topics up front, so consumers can subscribe before the first event and relays never wait on auto-creation. */
  private async createTopics(): Promise<void> {
    const topics = AGGREGATE_TYPES.map((aggregateType) => `${this.options.topicPrefix}${aggregateType}`);
    await ensureTopics({ brokers: this.options.kafkaBrokers, clientId: `${this.options.instanceName}-admin` }, topics, { partitions: 3 });
  }


  private async startNode(
    origin: string,
    create: (common: Omit<CommonOptions, 'port'>, registry: Registry) => HttpApplication,
    replicates: readonly AggregateType[],
  ): Promise<void> {
    const { options } = this;
    const database = `${options.databasePrefix}_${origin}`;
    await ensureDatabase(options.databaseUrl, database);
    const databaseUrl = withDatabase(options.databaseUrl, database);
    if (origin !== 'legacy') await refuseSharedSchema(databaseUrl, database);
    const registry = new Registry();
    const app = create({ host: options.host, databaseUrl, jwtSecret: options.jwtSecret, drainMs: options.stopTimeoutMs }, registry);
    this.track(`${origin} app`, app);
    app.answerAppliedEvents(replicates);
    await app.start();
    const relay = createRelay(
      {
        name: `${options.instanceName}_${origin}`,
        mode: options.relayMode,
        connectionString: databaseUrl,
        topicPrefix: options.topicPrefix,
        kafka: { brokers: options.kafkaBrokers, clientId: `${options.instanceName}-${origin}-relay` },
        heartbeatIntervalMs: options.relayHeartbeatMs,
        polling: { intervalMs: options.relayHeartbeatMs },
        stopTimeoutMs: options.stopTimeoutMs,
      },
      { logger: this.logger, registry },
    );
    this.track(`${origin} relay`, relay);
    await relay.start();
    const consumer = new SyncConsumer(
      {
        origin,
        aggregateTypes: replicates,
        topicPrefix: options.topicPrefix,
        groupId: `${options.instanceName}-${origin}-sync`,
        pool: app.pool,
        kafkaBrokers: options.kafkaBrokers,
      },
      { logger: this.logger, registry },
    );
    this.track(`${origin} sync consumer`, consumer);
    await consumer.start();
    this.nodes.push({ origin, database, databaseUrl, app, registry });
  }

  private async startProxy(): Promise<void> {
    const { options } = this;
    const clusters: Record<string, { url: string }> = { legacy: { url: this.node('legacy').app.url } };
    for (const service of SERVICES) clusters[service.name] = { url: this.node(service.name).app.url };
    const config = parseProxyConfig({
      proxy: { host: options.host, port: options.ports.proxy },
      admin: { host: options.host, port: options.ports.admin, token: options.adminToken },
      flags: {
        provider: 'unleash',
        unleash: {
          url: options.unleash.url,
          clientToken: options.unleash.clientToken,
          appName: `${options.instanceName}-proxy`,
          refreshIntervalMs: options.unleash.refreshIntervalMs,
          backupDir: options.unleash.backupDir,
          sendMetrics: false,
        },
      },
      reload: { watchFile: false },
      consistency: { enabled: options.readYourWrites },
      clusters,
      routes: SHOP_ROUTES.map((route, index) => ({
        id: route.id,
        order: (index + 1) * 10,
        match: { path: `${route.path}/{**rest}` },
        cluster: route.service,
        flag: this.flagName(route.id),
        shadow: { flag: this.flagName(route.id, 'shadow') },
      })),
    });
    const flags = createFlagProvider(config.flags, { logger: this.logger });
    this.proxy = new StranglerProxy({ config }, { logger: this.logger, registry: this.proxyRegistry, flags });
    this.track('proxy', this.proxy);
    await this.proxy.start();
  }

  /** The framework's drift monitor on every aggregate, publishing settled drift on legacy's registry. */
  private async startDriftMonitor(intervalMs: number): Promise<void> {
    const legacy = this.node('legacy').app.pool;
    const mapping = caseStudyMapping();
    const targets = await Promise.all(
      AGGREGATE_TYPES.map(async (type) => {
        const pools = { legacy, service: this.node(ownerOf(type)).app.pool };
        const [stores] = await openAggregates(mapping, [mapping.aggregates.get(type)!], pools);
        return { stores: stores!, pools };
      }),
    );
    const monitor = new DriftMonitor(targets, { intervalMs }, { gauge: createDriftGauge(this.node('legacy').registry), logger: this.logger });
    this.track('drift monitor', monitor);
    monitor.start();
  }

  /** Stops every part that started, newest first. Errors are logged, never stop the rest. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const part of [...this.started].reverse()) {
        try {
          await part.stop();
        } catch (error) {
          this.logger.warn({ err: error, part: part.name }, 'stop failed');
        }
      }
    })();
    return this.stopping;
  }
}
