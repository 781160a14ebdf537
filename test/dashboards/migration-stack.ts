import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import YAML from 'yaml';
import { saveAggregate } from '../../legacy-monolith';
import { legacyProduct, migrateSide, saveCatalogProduct } from '../case-study/shop-data';
import { append, createRelay, createTopicsWithLeaders, InboxConsumer, type InboxHandler, type InboxOptionsInput, type OutboxEvent } from '../../outbox';
import { CASE_STUDY_MAPPING_FILE } from '../../case-study/mapping';
import { parseRolloutPlan, prometheusQuery, RolloutController } from '../../rollout';
import { createFlagProvider, parseProxyConfig, StranglerProxy, UnleashAdminClient } from '../../strangler-proxy';
import { createTestDatabase, eventually, freePort, promQuery, testEnv, testKafka, UnleashAdmin, uniqueName, type TestDatabase } from '../helpers';

const ROOT = path.join(__dirname, '..', '..');
const logger = pino({ level: process.env.SFG_TEST_LOG_LEVEL ?? 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Extracted /users answers this slowly and fails every FAILURE_EVERY-th request: the latency and error alerts' incident. */
const EXTRACTED_USERS_DELAY_MS = 600;
const FAILURE_EVERY = 5;
/** The incident's second half (another unpublishable event, a topic replay) starts this long after the first. */
const SECOND_WAVE_AFTER_MS = 10_000;

/**
 * The catalog side's apply logic as a sync consumer sees it, keyed on the event's sequence number: most events
 * apply; some are stale or conflicting versions; some fail once with a transient error (retried); some can never be
 * applied (dead-lettered).
 */
function catalogApply(): InboxHandler {
  const failedOnce = new Set<string>();
  return async (event) => {
    const seq = (event.payload as { seq?: number } | null)?.seq ?? 0;
    if (seq % 20 === 7) throw Object.assign(new Error('violates foreign key products_category_fk'), { retriable: false });
    if (seq % 20 === 3 && !failedOnce.has(event.id)) {
      failedOnce.add(event.id);
      throw new Error('deadlock detected');
    }
    if (seq % 20 === 5) return 'stale';
    if (seq % 20 === 9) return 'conflict';
    return undefined;
  };
}

/**
 * An upstream HTTP service standing in for legacy or an extracted service (the proxy's backends, not a component
 * under test). /users answers name the side (so shadow comparisons of users mismatch); /catalog and /orders answers
 * are identical on both sides, except that every third /catalog answer of the extracted side is a version ahead
 * (a shadow comparison the proxy counts as lag).
 */
function upstream(side: 'legacy' | 'extracted'): http.Server {
  let users = 0;
  return http.createServer((req, res) => {
    const url = req.url ?? '/';
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url === '/healthz') return send(200, { ok: true });
    if (!url.startsWith('/users/')) {
      const ahead = side === 'extracted' && url.startsWith('/catalog/') && Number(url.slice(url.lastIndexOf('/') + 1)) % 3 === 0;
      return send(200, { items: ['kettle', 'teapot'], path: url, version: ahead ? 2 : 1 });
    }
    if (side === 'legacy') return send(200, { servedBy: side });
    users += 1;
    const status = users % FAILURE_EVERY === 0 ? 502 : 200;
    setTimeout(() => send(status, { servedBy: side }), EXTRACTED_USERS_DELAY_MS);
  });
}

async function listen(server: http.Server): Promise<string> {
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return `127.0.0.1:${port}`;
}

function metricsServer(registry: Registry): http.Server {
  return http.createServer((_req, res) => {
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: Error) => res.writeHead(500).end(error.message),
    );
  });
}

async function close(server: http.Server): Promise<void> {
  if (!server.listening) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * The real framework components, wired like the case study and driven through an incident so that every panel has
 * data and the alerts these components can trigger in a test hold:
 * - a StranglerProxy on real Unleash flags in front of legacy and extracted upstreams: route `users` at 50 % rollout
 *   whose extracted side is slow and fails 20 % (no fallback), `catalog` and `orders` shadowed (match, mismatch,
 *   dropped: the orders answer exceeds the shadow body limit), `payments` on an unreachable cluster (connect_error
 *   fallbacks, then its circuit opens and stays open), one successful and one failed configuration reload;
 * - a second StranglerProxy whose Unleash token is refused (flags never ready: flags_not_ready fallbacks);
 * - a CDC outbox relay publishing the legacy database's outbox to Kafka, with two events too large to publish (DLQ);
 * - an InboxConsumer applying those events to the catalog database (applied, stale, conflict, retried, dead-lettered),
 *   and later a replay of the topics under the same consumer name (duplicates);
 * - `strangler verify product --metrics-port`, the real CLI process, over a legacy and a catalog database that
 *   differ by one product (drift);
 * - a rollout controller on the `users` route, which rolls it back (startRollout).
 * Each component's registry is served on its own port (the proxy's admin /metrics needs a token that the file_sd
 * job does not send), and `scrapeTargets` lists them for Prometheus.
 */
export class MigrationStack {
  readonly scrapeTargets: string[] = [];
  private readonly servers: http.Server[] = [];
  private readonly proxies: StranglerProxy[] = [];
  private readonly databases: TestDatabase[] = [];
  private readonly tempDirs: string[] = [];
  private relay: ReturnType<typeof createRelay> | undefined;
  private readonly consumers: InboxConsumer[] = [];
  private verifyProcess: ChildProcess | undefined;
  private flag: string | undefined;
  private rolloutFlag: string | undefined;
  private rollout: RolloutController | undefined;
  private readonly rolloutRegistry = new Registry();
  private running = false;
  private readonly loops: Promise<void>[] = [];

  async start(): Promise<void> {
    this.running = true;
    const [legacyUrl, extractedUrl] = await Promise.all([this.serve(upstream('legacy')), this.serve(upstream('extracted'))]);
    const [legacyDb, catalogDb] = await Promise.all([createTestDatabase('sfg_dash_legacy'), createTestDatabase('sfg_dash_catalog')]);
    this.databases.push(legacyDb, catalogDb);
    await Promise.all([migrateSide(legacyDb.pool, 'legacy'), migrateSide(catalogDb.pool, 'catalog')]);

    this.flag = uniqueName('dash_users');
    const unleash = new UnleashAdmin();
    await unleash.createFlag(this.flag);
    await unleash.setRollout(this.flag, 50);

    const mainProxy = await this.startProxy(`http://${legacyUrl}`, `http://${extractedUrl}`, testEnv().unleashClientToken);
    // Unleash refuses this proxy's token, so its flags never become ready.
    const noFlagsProxy = await this.startProxy(`http://${legacyUrl}`, `http://${extractedUrl}`, '*:development.not-a-valid-token');
    await this.reloadTwice(mainProxy.proxy, mainProxy.configPath);

    const topicPrefix = await this.startRelay(legacyDb);
    const syncOptions = {
      name: 'catalog-sync',
      groupId: uniqueName('dash-sync'),
      topics: ['user', 'order'].map((aggregateType) => `${topicPrefix}${aggregateType}`),
      topicPrefix,
      connectionString: catalogDb.url,
      kafka: { brokers: testEnv().kafkaBrokers },
      maxAttempts: 3,
      retryBackoffMs: 50,
    };
    await createTopics(syncOptions.topics);
    await this.startSyncConsumer(syncOptions);
    await this.startVerify(legacyDb, catalogDb);

    // The rollout controller's series are scraped from the start; startRollout() runs it once the scrape label is known.
    await this.exportMetrics(this.rolloutRegistry);
    this.loops.push(this.traffic(mainProxy.proxy.address.proxy, ['/users/', '/catalog/', '/orders/', '/payments/'], 2));
    this.loops.push(this.traffic(noFlagsProxy.proxy.address.proxy, ['/users/'], 1));
    this.loops.push(this.outboxWrites(legacyDb));
    // A replay of the topics under the same consumer name: every event already applied is a duplicate.
    this.loops.push(this.secondWave(legacyDb, () => this.startSyncConsumer({ ...syncOptions, groupId: uniqueName('dash-replay') })));
  }

  /**
   * A rollout controller analysing the `users` route (its extracted side fails one request in five): the first
   * analysis fails and the controller rolls back. It moves a flag of its own, so the route keeps its traffic split
   * for the other panels and alerts.
   */
  async startRollout(testrun: string): Promise<void> {
    this.rolloutFlag = uniqueName('dash_rollout');
    const unleash = new UnleashAdmin();
    await unleash.createFlag(this.rolloutFlag);
    const db = await createTestDatabase('sfg_dash_rollout');
    this.databases.push(db);
    const env = testEnv();
    this.rollout = new RolloutController(
      [parseRolloutPlan({ route: 'users', flag: this.rolloutFlag, steps: [50, 100], stepDuration: '10s', analysisInterval: '5s', minRequests: 1, failureLimit: 1, selector: `testrun="${testrun}"` })],
      {
        pool: db.pool,
        connectionString: db.url,
        flags: new UnleashAdminClient({ url: env.unleashUrl, adminToken: env.unleashAdminToken, project: 'default', environment: 'development' }),
        query: prometheusQuery(env.prometheusUrl),
        logger,
        registry: this.rolloutRegistry,
      },
    );
    await this.rollout.start();
    // The rollback counter starts at 0; the rollback must come after Prometheus has seen that 0, or increase() sees
    // a series that was 1 from its first sample and no rollback at all.
    await eventually(async () => (await promQuery(`strangler_rollout_rollbacks_total{testrun="${testrun}"}`)).length > 0, 60_000, 'the rollback counter scraped at 0', 500);
    await this.rollout.store.start('users');
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.rollout?.stop();
    if (this.rolloutFlag) await new UnleashAdmin().deleteFlag(this.rolloutFlag).catch(() => undefined);
    await Promise.allSettled(this.loops);
    if (this.verifyProcess && this.verifyProcess.exitCode === null) {
      const exited = new Promise((resolve) => this.verifyProcess?.once('exit', resolve));
      this.verifyProcess.kill('SIGTERM');
      await exited;
    }
    await Promise.all(this.consumers.map((consumer) => consumer.stop()));
    await this.relay?.stop();
    await Promise.all(this.proxies.map((proxy) => proxy.stop()));
    await Promise.all(this.servers.map(close));
    await Promise.all(this.databases.map((db) => db.drop()));
    if (this.flag) await new UnleashAdmin().deleteFlag(this.flag).catch(() => undefined);
    for (const dir of this.tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  }

  private async serve(server: http.Server): Promise<string> {
    this.servers.push(server);
    return listen(server);
  }

  private async exportMetrics(registry: Registry): Promise<void> {
    this.scrapeTargets.push(await this.serve(metricsServer(registry)));
  }

  private proxyConfig(legacy: string, extracted: string, clientToken: string, backupDir: string) {
    return {
      proxy: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0, token: 'dashboards-test-admin-token' },
      flags: { provider: 'unleash', unleash: { url: testEnv().unleashUrl, clientToken, refreshIntervalMs: 1000, backupDir, sendMetrics: false } },
      reload: { watchFile: false },
      // stop() drains the shadow queue; a short one keeps that to about a second with the slow extracted side.
      shadow: { queueSize: 8, concurrency: 4 },
      clusters: {
        legacy: { url: legacy },
        extracted: { url: extracted, circuit: { failureThreshold: 1_000_000 } },
        unreachable: { url: 'http://127.0.0.1:9', connectTimeoutMs: 200, healthIntervalMs: 600_000, circuit: { failureThreshold: 2, openMs: 600_000 } },
      },
      routes: [
        { id: 'users', order: 10, match: { path: '/users/{**rest}' }, cluster: 'extracted', flag: this.flag, fallback: 'never', shadow: { enabled: true } },
        { id: 'catalog', order: 20, match: { path: '/catalog/{**rest}' }, cluster: 'extracted', shadow: { enabled: true } },
        { id: 'orders', order: 30, match: { path: '/orders/{**rest}' }, cluster: 'extracted', shadow: { enabled: true, maxBodyBytes: 8 } },
        { id: 'payments', order: 40, match: { path: '/payments/{**rest}' }, cluster: 'unreachable' },
      ],
    };
  }

  private async startProxy(legacy: string, extracted: string, clientToken: string): Promise<{ proxy: StranglerProxy; configPath: string }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-dash-proxy-'));
    this.tempDirs.push(dir);
    const configPath = path.join(dir, 'proxy.yaml');
    fs.writeFileSync(configPath, YAML.stringify(this.proxyConfig(legacy, extracted, clientToken, path.join(dir, 'unleash-backup'))));
    const config = parseProxyConfig(YAML.parse(fs.readFileSync(configPath, 'utf8')), {});
    const registry = new Registry();
    const proxy = new StranglerProxy({ config, configPath, env: {} }, { logger, registry, flags: createFlagProvider(config.flags, { logger }) });
    this.proxies.push(proxy);
    await proxy.start();
    await this.exportMetrics(registry);
    return { proxy, configPath };
  }

  /** One reload of the unchanged file (success), then one of a broken file (failure: the proxy keeps its table). */
  private async reloadTwice(proxy: StranglerProxy, configPath: string): Promise<void> {
    const ok = await proxy.reload();
    fs.writeFileSync(configPath, 'clusters: [not, a, map]\n');
    const failed = await proxy.reload();
    if (!ok.ok || failed.ok) throw new Error(`unexpected reload results: ${JSON.stringify([ok, failed])}`);
  }

  /** Starts the CDC relay and returns its topic prefix. */
  private async startRelay(db: TestDatabase): Promise<string> {
    const name = uniqueName('dash').slice(0, 40);
    const topicPrefix = `${name.replace(/_/g, '-')}.`;
    const registry = new Registry();
    this.relay = createRelay(
      {
        name,
        connectionString: db.url,
        topicPrefix,
        dlqTopic: `${name.replace(/_/g, '-')}.dlq`,
        kafka: { brokers: testEnv().kafkaBrokers, maxRecordBytes: 2_000 },
        heartbeatIntervalMs: 500,
        leadership: { retryIntervalMs: 200 },
      },
      { logger, registry },
    );
    await this.relay.start();
    await this.exportMetrics(registry);
    return topicPrefix;
  }

  private async startSyncConsumer(options: InboxOptionsInput): Promise<void> {
    const registry = new Registry();
    const consumer = new InboxConsumer(options, { logger, registry, handler: catalogApply() });
    this.consumers.push(consumer);
    await consumer.start();
    await this.exportMetrics(registry);
  }

  /** Runs the real CLI; it serves strangler_sync_drift_rows and re-verifies every second until SIGTERM. */
  private async startVerify(legacy: TestDatabase, catalog: TestDatabase): Promise<void> {
    const shared = legacyProduct();
    await saveAggregate(legacy.pool, 'product', shared, 'legacy');
    await saveCatalogProduct(catalog.pool, shared, 'legacy');
    await saveAggregate(legacy.pool, 'product', legacyProduct(), 'legacy');
    const port = await freePort();
    this.verifyProcess = spawn(
      path.join(ROOT, 'node_modules', '.bin', 'tsx'),
      [path.join(ROOT, 'cli', 'index.ts'), 'verify', 'product', '--mapping', CASE_STUDY_MAPPING_FILE, '--legacy', legacy.url, '--service', catalog.url, '--metrics-port', String(port), '--interval-ms', '1000'],
      { cwd: ROOT, stdio: 'ignore' },
    );
    this.scrapeTargets.push(`127.0.0.1:${port}`);
  }

  private traffic(base: string, prefixes: string[], concurrency: number): Promise<void> {
    let request = 0;
    const worker = async () => {
      while (this.running) {
        request += 1;
        const prefix = prefixes[request % prefixes.length] as string;
        await fetch(`${base}${prefix}${request}`, { headers: { 'x-user-id': `user-${request}` } })
          .then((response) => response.arrayBuffer())
          .catch(() => undefined);
        await sleep(10);
      }
    };
    return Promise.all(Array.from({ length: concurrency }, worker)).then(() => undefined);
  }

  /** A steady stream of user and order events, after one unpublishable (too large) event. */
  private async outboxWrites(db: TestDatabase): Promise<void> {
    await writeEvent(db, oversizedEvent());
    for (let seq = 0; this.running; seq += 1) {
      await writeEvent(db, { aggregateType: seq % 2 ? 'order' : 'user', aggregateId: `agg-${seq % 10}`, type: 'Changed', payload: { seq } });
      await sleep(100);
    }
  }

  /** Once the first wave has been scraped: another unpublishable event (the DLQ grows), and `replay`. */
  private async secondWave(db: TestDatabase, replay: () => Promise<void>): Promise<void> {
    await sleep(SECOND_WAVE_AFTER_MS);
    if (!this.running) return;
    await writeEvent(db, oversizedEvent());
    await replay();
  }
}

async function writeEvent(db: TestDatabase, event: OutboxEvent): Promise<void> {
  const client = await db.pool.connect();
  try {
    await client.query('begin');
    await append(client, event);
    await client.query('commit');
  } finally {
    client.release();
  }
}

/** Larger than the relay's maxRecordBytes: never published, sent to the relay's dead-letter topic. */
function oversizedEvent(): OutboxEvent {
  return { aggregateType: 'order', aggregateId: randomUUID(), type: 'OrderPlaced', payload: { notes: 'x'.repeat(5_000) } };
}

/** Creates the topics up front (the consumer subscribes before the relay's first record would auto-create them). */
async function createTopics(topics: string[]): Promise<void> {
  const admin = testKafka('strangler-dashboards-admin').admin();
  await admin.connect();
  try {
    await createTopicsWithLeaders(admin, topics.map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })));
  } finally {
    await admin.disconnect();
  }
}
