import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { THRESHOLDS } from './alerts';
import { barGauge, buildWithPanelIds, dashboardBase, labelVariable, stat, stateTimeline, timeseries } from './panels';
import { CIRCUIT_STATES } from './proxy-internals';
import { RECORDED } from './recording-rules';

const ROUTE = 'route=~"$route"';
const requests1m = `${RECORDED.proxyRequestsRate1m}{${ROUTE}}`;

/** Share of each route's requests answered by the extracted side; 0 (not missing) while none are. */
const extractedShare = (recordedRequestRate: string) => {
  const all = `sum by (route) (${recordedRequestRate}{${ROUTE}})`;
  return `(sum by (route) (${recordedRequestRate}{${ROUTE}, target="extracted"}) or ${all} * 0)\n/ ${all}`;
};

const quantile = (side: 'legacy' | 'extracted', q: number) => ({
  expr: `histogram_quantile(${q}, sum by (route, le) (${RECORDED.proxyDurationBucketRate1m}{${ROUTE}, target="${side}"}))`,
  legend: `{{route}} p${q * 100}`,
});

const latencyPanel = (side: 'legacy' | 'extracted') =>
  timeseries({
    title: `Latency, ${side} side (p50 / p95 / p99)`,
    description: `Request duration quantiles of the ${side} side over 1 minute, per route, measured at the proxy.`,
    unit: units.Seconds,
    queries: [quantile(side, 0.5), quantile(side, 0.95), quantile(side, 0.99)],
  });

export function migrationOverview(): Dashboard {
  return buildWithPanelIds(
    dashboardBase(
      'strangler-migration-overview',
      'strangler-fig / Migration overview',
      'How much of each route has moved, and is the extracted side as healthy as legacy?',
    )
      .withVariable(labelVariable('route', 'Route', 'strangler_proxy_requests_total'))
      .withVariable(labelVariable('cluster', 'Upstream cluster', 'strangler_proxy_circuit_state'))
      .withRow(new RowBuilder('How much has moved?'))
      .withPanel(
        barGauge(
          {
            title: 'Strangulation meter: share served by the extracted side',
            description: 'Fraction of each route\'s requests over the last 5 minutes that the extracted side answered.',
            unit: units.PercentUnit,
            queries: [{ expr: extractedShare(RECORDED.proxyRequestsRate5m), legend: '{{route}}' }],
          },
          { min: 0, max: 1 },
        ),
      )
      .withPanel(
        barGauge(
          {
            title: 'Rollout state (flag %)',
            description: 'Rollout percentage of each route\'s feature flag as the proxy sees it (0 when the flag is off).',
            unit: units.Percent,
            queries: [{ expr: `max by (route) (strangler_proxy_route_rollout_percent{${ROUTE}})`, legend: '{{route}}' }],
          },
          { min: 0, max: 100 },
        ),
      )
      .withPanel(
        timeseries(
          {
            title: 'Rollout controller: weight set per route',
            description: 'The rollout percentage the rollout controller set for each route (strangler rollout run); a drop to 0 is a rollback or an abort.',
            unit: units.Percent,
            queries: [{ expr: `max by (route) (strangler_rollout_weight_percent{${ROUTE}})`, legend: '{{route}}' }],
          },
          { min: 0, max: 100 },
        ),
      )
      .withPanel(
        timeseries({
          title: 'Rollout controller: analyses by result',
          description: 'Analyses of each route\'s rollout step over 5 minutes: pass, fail, inconclusive (too little traffic: the step is held) and error (Prometheus unreachable).',
          unit: units.NoUnit,
          queries: [{ expr: `sum by (route, result) (increase(strangler_rollout_analysis_total{${ROUTE}}[5m]))`, legend: '{{route}} {{result}}' }],
        }),
      )
      .withPanel(
        timeseries(
          {
            title: 'Extracted share over time',
            description: 'The strangulation meter over time (1 minute windows).',
            unit: units.PercentUnit,
            queries: [{ expr: extractedShare(RECORDED.proxyRequestsRate1m), legend: '{{route}}' }],
            width: 24,
          },
          { min: 0, max: 1 },
        ),
      )
      .withRow(new RowBuilder('Is the new side as healthy as the old?'))
      .withPanel(
        timeseries({
          title: 'Requests per second, legacy vs extracted',
          description: 'Requests per route and side, as answered (after any fallback).',
          unit: units.RequestsPerSecond,
          queries: [{ expr: `sum by (route, target) (${requests1m})`, legend: '{{route}} {{target}}' }],
        }),
      )
      .withPanel(
        timeseries(
          {
            title: 'Error ratio (5xx), legacy vs extracted',
            description: `Share of 5xx responses per route and side. The alert fires when extracted exceeds legacy by ${THRESHOLDS.errorRatioMargin * 100} points.`,
            unit: units.PercentUnit,
            queries: [
              {
                expr: `sum by (route, target) (${RECORDED.proxyRequestErrorsRate1m}{${ROUTE}})\n/ sum by (route, target) (${requests1m})`,
                legend: '{{route}} {{target}}',
              },
            ],
          },
          { min: 0 },
        ),
      )
      .withPanel(latencyPanel('legacy'))
      .withPanel(latencyPanel('extracted'))
      .withRow(new RowBuilder('Safety nets'))
      .withPanel(
        timeseries(
          {
            title: 'Fallbacks to legacy by reason',
            description: 'Requests meant for the extracted side that legacy answered instead, per route and reason.',
            unit: units.RequestsPerSecond,
            queries: [
              {
                expr: `sum by (route, reason) (rate(strangler_proxy_fallbacks_total{${ROUTE}}[$__rate_interval]))`,
                legend: '{{route}} {{reason}}',
              },
            ],
          },
          { stacked: true },
        ),
      )
      .withPanel(
        timeseries(
          {
            title: 'Shadow mismatch ratio',
            description:
              'Share of completed shadow comparisons whose answers really differed (mismatch), and whose difference replication lag explains (lag: different versions, or equal when asked again); dropped and failed comparisons excluded.',
            unit: units.PercentUnit,
            queries: (['mismatch', 'lag'] as const).map((result) => ({
              expr:
                `sum by (route) (rate(strangler_proxy_shadow_comparisons_total{${ROUTE}, result="${result}"}[$__rate_interval]))\n` +
                `/ sum by (route) (rate(strangler_proxy_shadow_comparisons_total{${ROUTE}, result=~"match|mismatch|lag"}[$__rate_interval]))`,
              legend: `{{route}} ${result}`,
            })),
          },
          { min: 0, max: 1 },
        ),
      )
      .withPanel(
        stateTimeline(
          {
            title: 'Circuit state per upstream cluster',
            description: 'Circuit breakers of the selected upstream clusters: closed, half-open or open (legacy answers).',
            unit: units.NoUnit,
            queries: [{ expr: `max by (cluster) (strangler_proxy_circuit_state{cluster=~"$cluster"})`, legend: '{{cluster}}' }],
          },
          CIRCUIT_STATES,
        ),
      )
      .withPanel(
        stat({
          title: 'Proxies with flags ready',
          description: 'Proxy instances whose flag provider is ready, out of all proxy instances. Proxies without flags route everything to legacy.',
          unit: units.NoUnit,
          queries: [
            { expr: 'sum(strangler_proxy_flags_ready)', legend: 'ready' },
            { expr: 'count(strangler_proxy_flags_ready)', legend: 'proxies' },
          ],
          width: 12,
          height: 8,
        }),
      ),
  );
}
