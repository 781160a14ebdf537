import type { RolloutPlan, RolloutStep } from './options';
import type { QueryScalar } from './prometheus';

export type AnalysisResult = 'pass' | 'fail' | 'inconclusive';

export interface CheckOutcome {
  check: 'traffic' | 'errorRatio' | 'p99Latency' | 'shadowMismatchRatio' | 'syncLag' | 'driftRows';
  result: AnalysisResult;
  /** What was measured (undefined: no data), and the limit it was held to. */
  value: number | undefined;
  limit: number | undefined;
  detail: string;
}

export interface Analysis {
  result: AnalysisResult;
  checks: CheckOutcome[];
  /** The PromQL behind each figure, so an operator can ask Prometheus the same. */
  queries: Record<string, string>;
}

const round = (value: number | undefined, digits = 4) => (value === undefined ? undefined : Number(value.toFixed(digits)));

/**
 * One analysis of a step, over the last `analysisInterval`: the traffic the step needs (fewer is inconclusive:
 * hold, never promote on silence), then every check. Fails when any check fails.
 */
export async function analyse(plan: RolloutPlan, step: RolloutStep, query: QueryScalar): Promise<Analysis> {
  const window = `${Math.max(1, Math.round(plan.analysisInterval / 1000))}s`;
  const matchers = (extra: string) => [`route="${plan.route}"`, extra, plan.selector].filter(Boolean).join(',');
  const requests = (extra: string) => `sum(increase(strangler_proxy_requests_total{${matchers(extra)}}[${window}]))`;
  const { checks: limits } = plan;
  const relays = limits.syncLag.relays.length ? `{relay=~"${limits.syncLag.relays.join('|')}"}` : '';
  const aggregates = limits.driftRows.aggregateTypes.length ? `{aggregatetype=~"${limits.driftRows.aggregateTypes.join('|')}"}` : '';
  const queries: Record<string, string> = {
    comparisons: `sum(increase(strangler_proxy_shadow_comparisons_total{${matchers('')}}[${window}]))`,
    badComparisons: `sum(increase(strangler_proxy_shadow_comparisons_total{${matchers('result=~"mismatch|error"')}}[${window}]))`,
    syncLag: `max(strangler_outbox_lag_seconds${relays})`,
    driftRows: `sum(strangler_sync_drift_rows${aggregates})`,
  };
  if (step !== 'shadow') {
    Object.assign(queries, {
      extractedServed: requests('target="extracted"'),
      extractedFailed: requests('target="extracted",code=~"5.."'),
      fellBack: `sum(increase(strangler_proxy_fallbacks_total{${matchers('')}}[${window}]))`,
      legacyServed: requests('target="legacy"'),
      legacyFailed: requests('target="legacy",code=~"5.."'),
      extractedP99: `histogram_quantile(0.99, sum by (le) (rate(strangler_proxy_request_duration_seconds_bucket{${matchers('target="extracted"')}}[${window}])))`,
      legacyP99: `histogram_quantile(0.99, sum by (le) (rate(strangler_proxy_request_duration_seconds_bucket{${matchers('target="legacy"')}}[${window}])))`,
    });
  }
  const names = Object.keys(queries);
  const values = await Promise.all(names.map((name) => query(queries[name]!)));
  const figure = Object.fromEntries(names.map((name, index) => [name, values[index]])) as Record<string, number | undefined>;
  const checks: CheckOutcome[] = [];

  const comparisons = figure.comparisons ?? 0;
  if (step === 'shadow') {
    checks.push(trafficCheck(comparisons, plan.minRequests, 'shadow comparisons'));
  } else {
    const fellBack = figure.fellBack ?? 0;
    const attempts = (figure.extractedServed ?? 0) + fellBack;
    checks.push(trafficCheck(attempts, plan.minRequests, 'requests for the new side'));
    const extractedRatio = attempts ? ((figure.extractedFailed ?? 0) + fellBack) / attempts : undefined;
    const legacyServed = figure.legacyServed ?? 0;
    const legacyRatio = legacyServed ? (figure.legacyFailed ?? 0) / legacyServed : 0;
    const ratioLimit = Math.min(limits.errorRatio.max, legacyRatio + limits.errorRatio.maxAboveLegacy);
    checks.push(
      extractedRatio === undefined
        ? { check: 'errorRatio', result: 'inconclusive', value: undefined, limit: round(ratioLimit), detail: 'no request reached the new side' }
        : {
            check: 'errorRatio',
            result: extractedRatio <= ratioLimit ? 'pass' : 'fail',
            value: round(extractedRatio),
            limit: round(ratioLimit),
            detail: `new side ${(extractedRatio * 100).toFixed(2)} % failed or fell back, legacy ${(legacyRatio * 100).toFixed(2)} %`,
          },
    );
    const extractedP99 = figure.extractedP99;
    const legacyP99 = figure.legacyP99;
    const absolute = limits.p99Latency.max === undefined ? Infinity : limits.p99Latency.max / 1000;
    const versusLegacy = legacyP99 === undefined ? Infinity : Math.max(legacyP99 * limits.p99Latency.maxVersusLegacy, legacyP99 + limits.p99Latency.tolerance / 1000);
    const latencyLimit = Math.min(absolute, versusLegacy);
    checks.push(
      extractedP99 === undefined
        ? { check: 'p99Latency', result: 'inconclusive', value: undefined, limit: undefined, detail: 'no latency samples from the new side' }
        : {
            check: 'p99Latency',
            result: extractedP99 <= latencyLimit ? 'pass' : 'fail',
            value: round(extractedP99),
            limit: Number.isFinite(latencyLimit) ? round(latencyLimit) : undefined,
            detail: `new side p99 ${(extractedP99 * 1000).toFixed(1)} ms, legacy ${legacyP99 === undefined ? 'no data' : `${(legacyP99 * 1000).toFixed(1)} ms`}`,
          },
    );
  }
  const mismatchRatio = comparisons ? (figure.badComparisons ?? 0) / comparisons : undefined;
  checks.push(
    mismatchRatio === undefined
      ? { check: 'shadowMismatchRatio', result: 'pass', value: undefined, limit: limits.shadowMismatchRatio.max, detail: 'no shadow comparisons in the window' }
      : {
          check: 'shadowMismatchRatio',
          result: mismatchRatio <= limits.shadowMismatchRatio.max ? 'pass' : 'fail',
          value: round(mismatchRatio),
          limit: limits.shadowMismatchRatio.max,
          detail: `${round(figure.badComparisons ?? 0, 1)} real mismatches or shadow errors in ${round(comparisons, 1)} comparisons`,
        },
  );
  checks.push(gauge('syncLag', figure.syncLag, limits.syncLag.max / 1000, limits.syncLag.relays.length > 0, 's of sync lag'));
  checks.push(gauge('driftRows', figure.driftRows, limits.driftRows.max, limits.driftRows.aggregateTypes.length > 0, 'drift rows at the last verify'));

  const result: AnalysisResult = checks.some((check) => check.result === 'fail')
    ? 'fail'
    : checks.some((check) => check.result === 'inconclusive')
      ? 'inconclusive'
      : 'pass';
  return { result, checks, queries };
}

function trafficCheck(seen: number, needed: number, what: string): CheckOutcome {
  return { check: 'traffic', result: seen >= needed ? 'pass' : 'inconclusive', value: round(seen, 1), limit: needed, detail: `${round(seen, 1)} ${what} in the window, ${needed} needed` };
}

/** A gauge held to a ceiling. No series: fine when nothing was named to watch, inconclusive when something was. */
function gauge(check: 'syncLag' | 'driftRows', value: number | undefined, limit: number, named: boolean, unit: string): CheckOutcome {
  if (value === undefined) return { check, result: named ? 'inconclusive' : 'pass', value, limit, detail: named ? 'no series for the named sources' : 'no series (nothing exports it)' };
  return { check, result: value <= limit ? 'pass' : 'fail', value: round(value), limit, detail: `${round(value)} ${unit}, at most ${limit}` };
}
