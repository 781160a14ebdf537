import { freePort, promQuery, registerScrapeTargets, testEnv } from '../helpers';
import { CatalogueScenario } from './catalogue-scenario';
import { dashboardExpressions, restrictToLabel, ruleExpressions, ruleGroupNames, type ShippedExpression } from './expressions';

const EVALUATION_TIMEOUT_MS = 100_000;

/** Asks the running Prometheus to re-read prometheus.yml and the rule files, and waits until our groups are loaded. */
async function reloadRules(): Promise<void> {
  const response = await fetch(new URL('/-/reload', testEnv().prometheusUrl), { method: 'POST' });
  if (!response.ok) throw new Error(`Prometheus reload failed: ${response.status} ${await response.text()}`);
}

async function loadedRuleGroups(): Promise<string[]> {
  const response = await fetch(new URL('/api/v1/rules', testEnv().prometheusUrl));
  const body = (await response.json()) as { data: { groups: Array<{ name: string }> } };
  return body.data.groups.map((group) => group.name);
}

/**
 * Polls every expression until each returns at least one series (recording rules and rate windows need a few
 * scrapes and evaluations). Returns the expressions Prometheus rejected, and those still empty at the deadline.
 */
async function expressionsWithoutSeries(expressions: ShippedExpression[], testrun: string): Promise<string[]> {
  const pending = new Map(expressions.map((expression) => [expression.source, restrictToLabel(expression.expr, 'testrun', testrun)]));
  const rejected: string[] = [];
  const deadline = Date.now() + EVALUATION_TIMEOUT_MS;
  while (pending.size && Date.now() < deadline) {
    await Promise.all(
      [...pending].map(async ([source, expr]) => {
        const outcome = await promQuery(expr).then(
          (series) => series.length > 0,
          (error: Error) => error.message,
        );
        if (outcome !== false) pending.delete(source);
        if (typeof outcome === 'string') rejected.push(`${source}: ${outcome}`);
      }),
    );
    if (pending.size) await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  return [...rejected, ...[...pending].map(([source, expr]) => `${source}: no series for ${expr}`)];
}

describe('every dashboard and rule expression on the real Prometheus', () => {
  const scenario = new CatalogueScenario();
  let scrape: { testrun: string; unregister(): void } | undefined;

  beforeAll(async () => {
    await reloadRules();
    const port = await freePort();
    await scenario.start(port);
    scrape = registerScrapeTargets([`127.0.0.1:${port}`]);
  });

  afterAll(async () => {
    scrape?.unregister();
    await scenario.stop();
  });

  test('Prometheus loaded every rule group of dashboards/prometheus/rules', async () => {
    const expected = ruleGroupNames();
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(await loadedRuleGroups()).toEqual(expect.arrayContaining(expected));
  });

  test('each expression parses and returns at least one series of this run', async () => {
    const expressions = [...dashboardExpressions(), ...ruleExpressions()];
    expect(expressions.length).toBeGreaterThanOrEqual(45);
    expect(await expressionsWithoutSeries(expressions, scrape?.testrun as string)).toEqual([]);
  });

  test('a parse error is reported, not mistaken for an empty result', async () => {
    await expect(promQuery('sum by (route (strangler_proxy_requests_total)')).rejects.toThrow(/parse error/);
  });
});
