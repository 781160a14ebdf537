import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { runTraffic, type TrafficSummary } from '../../case-study/traffic';
import { TestStack } from '../case-study/stack-fixture';
import { promQuery, registerScrapeTargets } from '../helpers';
import { dashboardExpressions, restrictToLabel, type ShippedExpression } from './expressions';

/**
 * Series that only exist after an incident (a fallback, a shadow comparison, a DLQ record, a failed reload, a
 * verify run) or with a rollout controller running: queries-int.test.ts produces those on purpose. Everything else must come out of a healthy migration.
 */
const INCIDENT_ONLY = /fallbacks|shadow_comparisons|dlq|publish_errors|config_reload|drift_rows|strangler_rollout_/;
const EVALUATION_TIMEOUT_MS = 90_000;

function serveRegistry(registry: Registry): Promise<http.Server> {
  const server = http.createServer((_req, res) => {
    registry.metrics().then((text) => {
      res.setHeader('content-type', registry.contentType);
      res.end(text);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function withoutSeries(expressions: ShippedExpression[], testrun: string): Promise<string[]> {
  const pending = new Map(expressions.map((expression) => [expression.source, restrictToLabel(expression.expr, 'testrun', testrun)]));
  const deadline = Date.now() + EVALUATION_TIMEOUT_MS;
  while (pending.size && Date.now() < deadline) {
    for (const [source, expr] of pending) if ((await promQuery(expr)).length > 0) pending.delete(source);
    if (pending.size) await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  return [...pending].map(([source, expr]) => `${source}: no series for ${expr}`);
}

/**
 * The dashboards as an SRE sees them during a migration: the case-study stack (monolith, four services, relays, sync
 * consumers, proxy) under shop traffic with two routes half moved, scraped by the real Prometheus.
 */
describe('dashboards over the running case-study stack', () => {
  let test: TestStack;
  const servers: http.Server[] = [];
  let scrape: { testrun: string; unregister(): void } | undefined;
  const stopTraffic = new AbortController();
  let traffic: Promise<TrafficSummary> | undefined;

  beforeAll(async () => {
    test = new TestStack('sfg_dash', { seed: true });
    await test.stack.start();
    const registries = [test.stack.proxyRegistry, ...test.stack.nodes.map((node) => node.registry)];
    for (const registry of registries) servers.push(await serveRegistry(registry));
    scrape = registerScrapeTargets(servers.map((server) => `127.0.0.1:${(server.address() as AddressInfo).port}`));
  });

  afterAll(async () => {
    stopTraffic.abort();
    await traffic;
    scrape?.unregister();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await test?.stop();
  });

  it('fills every steady-state panel of every dashboard', async () => {
    const { stack } = test;
    await stack.flags.setRollout(stack.flagName('products', 'route'), 50);
    await stack.flags.setRollout(stack.flagName('orders', 'route'), 50);
    // Rollouts are sticky per user: with 4 users, all of them landed on one side 1 time in 8; with 40, never.
    traffic = runTraffic({ proxyUrl: stack.proxyUrl, concurrency: 4, shoppers: 40, signal: stopTraffic.signal, thinkTimeMs: 100, mix: { orderShare: 0.5, cancelShare: 0.3 } });

    const steadyState = dashboardExpressions().filter((expression) => !INCIDENT_ONLY.test(expression.expr));
    expect(steadyState.length).toBeGreaterThan(20);
    expect(await withoutSeries(steadyState, scrape!.testrun)).toEqual([]);

    const split = await promQuery(restrictToLabel('sum by (target) (strangler_proxy_requests_total{route="products"})', 'testrun', scrape!.testrun));
    expect(split.map((sample) => sample.metric.target).sort()).toEqual(['extracted', 'legacy']);
  });
});
