import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { prometheusQuery, RolloutController, type RolloutPlanInput, parseRolloutPlan } from '../../rollout';
import { UnleashFlagProvider, UnleashAdminClient } from '../../strangler-proxy';
import { registerScrapeTargets, testEnv, UnleashAdmin, uniqueName, type TestDatabase } from '../helpers';
import { request, silentLogger, startProxy, Upstream, type RunningProxy } from '../strangler-proxy/harness';

export const ANALYSIS_MS = 3_000;
/** Prometheus scrapes these targets every second (`__scrape_interval__`): a failure shows at most this late. */
export const SCRAPE_MS = 1_000;

export interface Stack {
  flag: string;
  testrun: string;
  proxy: RunningProxy;
  legacy: Upstream;
  orders: Upstream;
  /** Answers of the GETs sent so far, by status. */
  statuses: Map<number, number>;
  plan(overrides?: Partial<RolloutPlanInput>): RolloutPlanInput;
  stop(): Promise<void>;
}

/**
 * A proxy in front of two upstreams with its route on a fresh Unleash flag, its metrics scraped by the real
 * Prometheus every second, and (unless `traffic` is 0) GETs from many users at about `traffic` requests/s.
 */
export async function startStack(traffic: number): Promise<Stack> {
  const env = testEnv();
  const admin = new UnleashAdmin();
  const flag = uniqueName('sfg-rollout').replace(/_/g, '-');
  await admin.createFlag(flag);
  await admin.setRollout(flag, 0);
  const legacy = await new Upstream('legacy').start();
  const orders = await new Upstream('orders').start();
  const provider = new UnleashFlagProvider(
    { url: env.unleashUrl, clientToken: env.unleashClientToken, appName: uniqueName('sfg-rollout-proxy'), refreshIntervalMs: 500, backupDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-rollout-')), sendMetrics: false },
    { logger: silentLogger },
  );
  const proxy = await startProxy(
    { clusters: { legacy: { url: legacy.url }, orders: { url: orders.url } }, routes: [{ id: 'orders', order: 10, match: { path: '/api/orders/{**rest}' }, cluster: 'orders', flag }] },
    provider,
  );
  const metrics = http.createServer(async (_req, res) => {
    res.setHeader('content-type', proxy.registry.contentType);
    res.end(await proxy.registry.metrics());
  });
  await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
  const { testrun, unregister } = registerScrapeTargets([`127.0.0.1:${(metrics.address() as { port: number }).port}`], { __scrape_interval__: '1s', __scrape_timeout__: '1s' });
  const statuses = new Map<number, number>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let user = 0;
  const timer = traffic
    ? setInterval(() => {
        for (let n = 0; n < traffic / 20; n += 1) {
          user += 1;
          void request(`${proxy.url}/api/orders/${user}`, { headers: { 'x-user-id': `user-${user % 5_000}` }, agent })
            .then((response) => statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1))
            .catch(() => statuses.set(0, (statuses.get(0) ?? 0) + 1));
        }
      }, 50)
    : undefined;
  return {
    flag,
    testrun,
    proxy,
    legacy,
    orders,
    statuses,
    plan: (overrides = {}) => ({
      route: 'orders',
      flag,
      steps: [10, 50, 100],
      stepDuration: '6s',
      analysisInterval: `${ANALYSIS_MS}ms`,
      minRequests: 10,
      failureLimit: 1,
      selector: `testrun="${testrun}"`,
      // Another test's relays or verify runs must not decide this rollout.
      checks: { syncLag: { relays: [] }, driftRows: { aggregateTypes: [] } },
      ...overrides,
    }),
    async stop() {
      clearInterval(timer);
      unregister();
      await new Promise((resolve) => metrics.close(resolve));
      await proxy.stop();
      await Promise.all([legacy.kill(), orders.kill()]);
      agent.destroy();
      await admin.deleteFlag(flag).catch(() => undefined);
    },
  };
}

export const unleashFlags = () => new UnleashAdminClient({ url: testEnv().unleashUrl, adminToken: testEnv().unleashAdminToken, project: 'default', environment: 'development' });

export function inProcessController(db: TestDatabase, plans: RolloutPlanInput[], registry = new Registry()) {
  return new RolloutController(plans.map(parseRolloutPlan), {
    pool: db.pool,
    connectionString: db.url,
    flags: unleashFlags(),
    query: prometheusQuery(testEnv().prometheusUrl),
    logger: silentLogger,
    registry,
  });
}


