import { freePort, promQuery, registerScrapeTargets, testEnv } from '../helpers';
import { dashboardExpressions, restrictToLabel, ruleExpressions, ruleGroupNames, type ShippedExpression } from './expressions';
import { MigrationStack } from './migration-stack';
import { StandInExporter } from './stand-in-exporter';

const EVALUATION_TIMEOUT_MS = 100_000;

/**
 * Expressions evaluated against the stand-in exporter instead of the real components, and why. Everything else must
 * return series produced by the real proxy, relay and verify CLI.
 */
const STAND_IN_ONLY: Array<{ pattern: RegExp; reason: string }> = [
  { pattern: /StranglerOutboxLagHigh/, reason: 'needs a relay stalled for over 30 s' },
  { pattern: /StranglerReplicationSlotLagHigh/, reason: 'needs 256 MiB of retained WAL' },
  { pattern: /StranglerOutboxTopicPartitionsChanged/, reason: 'needs partitions added under a running relay (test/outbox/topics.int.test.ts)' },
];

const usesStandIn = (expression: ShippedExpression) => STAND_IN_ONLY.some(({ pattern }) => pattern.test(`${expression.source} ${expression.expr}`));

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
  const stack = new MigrationStack();
  const standIn = new StandInExporter();
  let components: { testrun: string; unregister(): void } | undefined;
  let standIns: { testrun: string; unregister(): void } | undefined;

  beforeAll(async () => {
    await reloadRules();
    const port = await freePort();
    await standIn.start(port);
    standIns = registerScrapeTargets([`127.0.0.1:${port}`]);
    await stack.start();
    components = registerScrapeTargets(stack.scrapeTargets);
    await stack.startRollout(components.testrun);
  });

  afterAll(async () => {
    components?.unregister();
    standIns?.unregister();
    await stack.stop();
    await standIn.stop();
  });

  test('Prometheus loaded every rule group of dashboards/prometheus/rules', async () => {
    const expected = ruleGroupNames();
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(await loadedRuleGroups()).toEqual(expect.arrayContaining(expected));
  });

  test('each expression parses and returns at least one series of this run', async () => {
    const expressions = [...dashboardExpressions(), ...ruleExpressions()];
    expect(expressions.length).toBeGreaterThanOrEqual(45);
    const onStandIn = expressions.filter(usesStandIn);
    expect(onStandIn.map((expression) => expression.source)).toEqual([
      'alerts.yml / strangler.alerts / StranglerOutboxLagHigh',
      'alerts.yml / strangler.alerts / StranglerReplicationSlotLagHigh',
      'alerts.yml / strangler.alerts / StranglerOutboxTopicPartitionsChanged',
    ]);
    const [fromComponents, fromStandIn] = await Promise.all([
      expressionsWithoutSeries(expressions.filter((expression) => !usesStandIn(expression)), components?.testrun as string),
      expressionsWithoutSeries(onStandIn, standIns?.testrun as string),
    ]);
    expect({ fromComponents, fromStandIn }).toEqual({ fromComponents: [], fromStandIn: [] });
  });

  test('the incident produced every rare event the panels show', async () => {
    const labelValues = async (metric: string, label: string) =>
      (await promQuery(`count by (${label}) (${metric}{testrun="${components?.testrun}"})`)).map((sample) => sample.metric[label]).sort();
    const expected = {
      outcomes: ['applied', 'conflict', 'dlq', 'duplicate', 'retried', 'stale'],
      fallbacks: ['circuit_open', 'connect_error', 'flags_not_ready'],
      shadow: ['dropped', 'lag', 'match', 'mismatch'],
      reloads: ['failure', 'success'],
    };
    const observe = async () => ({
      outcomes: await labelValues('strangler_sync_events_total', 'outcome'),
      fallbacks: await labelValues('strangler_proxy_fallbacks_total', 'reason'),
      shadow: (await labelValues('strangler_proxy_shadow_comparisons_total', 'result')).filter((result) => result !== 'error'),
      reloads: await labelValues('strangler_proxy_config_reloads_total', 'result'),
    });
    let observed = await observe();
    for (const deadline = Date.now() + 30_000; JSON.stringify(observed) !== JSON.stringify(expected) && Date.now() < deadline; observed = await observe()) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(observed).toEqual(expected);
  });

  test('a parse error is reported, not mistaken for an empty result', async () => {
    await expect(promQuery('sum by (route (strangler_proxy_requests_total)')).rejects.toThrow(/parse error/);
  });
});
