import { analyse, parseRolloutPlan, type QueryScalar } from '../../rollout';

/** Answers each query by the first pattern it matches; unmatched queries have no data. */
function fakePrometheus(answers: Array<[RegExp, number]>): QueryScalar & { asked: string[] } {
  const asked: string[] = [];
  const query = async (expression: string) => {
    asked.push(expression);
    return answers.find(([pattern]) => pattern.test(expression))?.[1];
  };
  return Object.assign(query, { asked });
}

const plan = parseRolloutPlan({ route: 'orders', flag: 'f', shadowFlag: 's', steps: ['shadow', 25, 100], analysisInterval: '30s', minRequests: 100, selector: 'job="proxy"' });

const healthy: Array<[RegExp, number]> = [
  [/requests_total\{[^}]*target="extracted",code=~"5\.\."/, 1],
  [/requests_total\{[^}]*target="extracted"/, 400],
  [/fallbacks_total/, 0],
  [/requests_total\{[^}]*target="legacy",code=~"5\.\."/, 2],
  [/requests_total\{[^}]*target="legacy"/, 1200],
  [/histogram_quantile.*target="extracted"/, 0.08],
  [/histogram_quantile.*target="legacy"/, 0.1],
  [/shadow_comparisons_total\{[^}]*result=~/, 0],
  [/shadow_comparisons_total/, 300],
  [/strangler_outbox_lag_seconds/, 0.2],
  [/strangler_sync_drift_rows/, 0],
];

describe('rollout analysis', () => {
  it('passes a healthy step and shows the PromQL behind each figure', async () => {
    const prometheus = fakePrometheus(healthy);
    const analysis = await analyse(plan, 25, prometheus);
    expect(analysis.result).toBe('pass');
    expect(analysis.checks.map((check) => [check.check, check.result])).toEqual([
      ['traffic', 'pass'],
      ['errorRatio', 'pass'],
      ['p99Latency', 'pass'],
      ['shadowMismatchRatio', 'pass'],
      ['syncLag', 'pass'],
      ['driftRows', 'pass'],
    ]);
    expect(analysis.queries.extractedServed).toBe('sum(increase(strangler_proxy_requests_total{route="orders",target="extracted",job="proxy"}[30s]))');
    expect(prometheus.asked.every((expression) => expression.includes('[30s]') || !expression.includes('['))).toBe(true);
  });

  it('fails on errors: absolute, relative to legacy, and requests that fell back', async () => {
    // 5 % of the new side's requests fail while legacy fails 0.17 %.
    const failing = await analyse(plan, 25, fakePrometheus([[/requests_total\{[^}]*target="extracted",code=~"5\.\."/, 20], ...healthy]));
    expect(failing.result).toBe('fail');
    expect(failing.checks.find((check) => check.check === 'errorRatio')).toMatchObject({ result: 'fail', value: 0.05, limit: 0.0067 });
    // 0.75 % is under the 1 % ceiling but more than 0.5 points above legacy's 0.17 %: fell-back requests count as failures.
    const fellBack = await analyse(plan, 25, fakePrometheus([[/fallbacks_total/, 2], ...healthy.filter(([pattern]) => !/fallbacks/.test(pattern.source))]));
    expect(fellBack.checks.find((check) => check.check === 'errorRatio')).toMatchObject({ result: 'fail', value: 0.0075 });
  });

  it('fails a p99 over 1.5 times legacy and 50 ms above it, real shadow mismatches, sync lag and drift', async () => {
    const slow = await analyse(plan, 25, fakePrometheus([[/histogram_quantile.*target="extracted"/, 0.2], ...healthy]));
    expect(slow.checks.find((check) => check.check === 'p99Latency')).toMatchObject({ result: 'fail', value: 0.2, limit: 0.15 });
    // 16 ms against legacy's 1 ms is sixteen times as slow, and noise: within the 50 ms tolerance.
    const noisy = await analyse(plan, 25, fakePrometheus([[/histogram_quantile.*target="extracted"/, 0.016], [/histogram_quantile.*target="legacy"/, 0.001], ...healthy]));
    expect(noisy.checks.find((check) => check.check === 'p99Latency')).toMatchObject({ result: 'pass', limit: 0.051 });
    const capped = await analyse(parseRolloutPlan({ ...plan, checks: { p99Latency: { max: '30ms' } } }), 25, fakePrometheus([[/histogram_quantile.*target="extracted"/, 0.04], ...healthy]));
    expect(capped.checks.find((check) => check.check === 'p99Latency')).toMatchObject({ result: 'fail', limit: 0.03 });
    const mismatching = await analyse(plan, 'shadow', fakePrometheus([[/shadow_comparisons_total\{[^}]*result=~/, 3], ...healthy]));
    expect(mismatching.result).toBe('fail');
    expect(mismatching.checks.map((check) => check.check)).toEqual(['traffic', 'shadowMismatchRatio', 'syncLag', 'driftRows']);
    const lagging = await analyse(plan, 25, fakePrometheus([[/strangler_outbox_lag_seconds/, 9], [/strangler_sync_drift_rows/, 4], ...healthy]));
    expect(lagging.checks.filter((check) => check.result === 'fail').map((check) => check.check)).toEqual(['syncLag', 'driftRows']);
  });

  it('is inconclusive, never a pass, when the step saw too little traffic', async () => {
    const quiet = await analyse(plan, 25, fakePrometheus([[/requests_total\{[^}]*target="extracted",code=~"5\.\."/, 0], [/requests_total\{[^}]*target="extracted"/, 30], ...healthy]));
    expect(quiet.result).toBe('inconclusive');
    expect(quiet.checks[0]).toMatchObject({ check: 'traffic', result: 'inconclusive', value: 30, limit: 100 });
    const silent = await analyse(plan, 25, fakePrometheus([]));
    expect(silent.result).toBe('inconclusive');
    // A failure still wins over too little traffic.
    const failingQuietly = await analyse(plan, 25, fakePrometheus([[/requests_total\{[^}]*target="extracted",code=~"5\.\."/, 10], [/requests_total\{[^}]*target="extracted"/, 30], ...healthy]));
    expect(failingQuietly.result).toBe('fail');
  });
});
