import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { buildWithPanelIds, dashboardBase, labelVariable, stat, stateTimeline, timeseries, valueMapping } from './panels';

/** strangler_proxy_circuit_state values. */
export const CIRCUIT_STATES = valueMapping({
  0: { text: 'closed', color: 'green' },
  1: { text: 'half-open', color: 'orange' },
  2: { text: 'open', color: 'red' },
});

const READY = valueMapping({ 0: { text: 'not ready', color: 'red' }, 1: { text: 'ready', color: 'green' } });
const RELOAD_STATE = valueMapping({ 0: { text: 'ok', color: 'green' }, 1: { text: 'last reload failed', color: 'red' } });
const ROUTE = 'route=~"$route"';

export function proxyInternals(): Dashboard {
  return buildWithPanelIds(
    dashboardBase(
      'strangler-proxy-internals',
      'strangler-fig / Proxy internals',
      'Is the proxy itself healthy: flags, configuration, circuit breakers and the shadow queue?',
    )
      .withVariable(labelVariable('route', 'Route', 'strangler_proxy_requests_total'))
      .withVariable(labelVariable('cluster', 'Upstream cluster', 'strangler_proxy_circuit_state'))
      .withRow(new RowBuilder('Flags and configuration'))
      .withPanel(
        stat(
          {
            title: 'Flags ready',
            description: 'Per proxy instance: is the Unleash flag provider ready? While not, every route goes to legacy (fallback reason flags_not_ready).',
            unit: units.NoUnit,
            queries: [{ expr: 'min by (instance) (strangler_proxy_flags_ready)', legend: '{{instance}}' }],
          },
          { mappings: READY },
        ),
      )
      .withPanel(
        stat(
          {
            title: 'Configuration reload state',
            description: 'Per proxy instance: did the last configuration reload fail? The proxy keeps serving the previous configuration.',
            unit: units.NoUnit,
            queries: [{ expr: 'max by (instance) (strangler_proxy_config_reload_failed)', legend: '{{instance}}' }],
          },
          { mappings: RELOAD_STATE },
        ),
      )
      .withPanel(
        timeseries({
          title: 'Configuration reloads',
          description: 'Reload attempts per interval, by result.',
          unit: units.Short,
          queries: [{ expr: 'sum by (result) (increase(strangler_proxy_config_reloads_total[$__rate_interval]))', legend: '{{result}}' }],
        }),
      )
      .withPanel(
        timeseries(
          {
            title: 'Rollout percent per route',
            description: 'The rollout percentage of each route\'s flag as each proxy sees it; proxies disagreeing shows as separate lines.',
            unit: units.Percent,
            queries: [{ expr: `max by (route, instance) (strangler_proxy_route_rollout_percent{${ROUTE}})`, legend: '{{route}} @ {{instance}}' }],
            width: 24,
          },
          { min: 0, max: 100 },
        ),
      )
      .withRow(new RowBuilder('Circuit breakers and fallbacks'))
      .withPanel(
        stateTimeline(
          {
            title: 'Circuit state per proxy and upstream cluster',
            description: 'closed, half-open or open; while open the extracted cluster gets no traffic and legacy answers.',
            unit: units.NoUnit,
            queries: [{ expr: 'max by (cluster, instance) (strangler_proxy_circuit_state{cluster=~"$cluster"})', legend: '{{cluster}} @ {{instance}}' }],
            width: 24,
          },
          CIRCUIT_STATES,
        ),
      )
      .withPanel(
        timeseries(
          {
            title: 'Fallbacks by reason',
            description: 'Requests legacy answered instead of the extracted side, by reason (connect_error, timeout, upstream_5xx, circuit_open, flags_not_ready).',
            unit: units.RequestsPerSecond,
            queries: [{ expr: `sum by (reason) (rate(strangler_proxy_fallbacks_total{${ROUTE}}[$__rate_interval]))`, legend: '{{reason}}' }],
            width: 24,
          },
          { stacked: true },
        ),
      )
      .withRow(new RowBuilder('Shadow traffic'))
      .withPanel(
        timeseries(
          {
            title: 'Shadow comparisons by result',
            description: 'Shadow comparisons per second: match, mismatch, error (the shadow request failed) and dropped (queue full).',
            unit: units.OpsPerSecond,
            queries: [
              { expr: `sum by (result) (rate(strangler_proxy_shadow_comparisons_total{${ROUTE}}[$__rate_interval]))`, legend: '{{result}}' },
            ],
          },
          { stacked: true },
        ),
      )
      .withPanel(
        timeseries({
          title: 'Shadow queue drops per route',
          description: 'Shadow requests dropped because the shadow queue was full: the comparison sample is thinner than configured.',
          unit: units.OpsPerSecond,
          queries: [
            {
              expr: `sum by (route) (rate(strangler_proxy_shadow_comparisons_total{${ROUTE}, result="dropped"}[$__rate_interval]))`,
              legend: '{{route}}',
            },
          ],
        }),
      ),
  );
}
