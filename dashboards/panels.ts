import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  StackingConfigBuilder,
  StackingMode,
  VizLegendOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as BarGaugePanelBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelinePanelBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { DATASOURCE } from './datasource';

export interface Query {
  expr: string;
  legend: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  /** Grid width (24 = full row) and height. */
  width?: number;
  height?: number;
}

const REF_IDS = 'ABCDEFGHIJ';

function targets(queries: Query[], instant: boolean): DataqueryBuilder[] {
  return queries.map((query, index) => {
    const target = new DataqueryBuilder().datasource(DATASOURCE).refId(REF_IDS[index] ?? `Q${index}`).expr(query.expr).legendFormat(query.legend);
    return instant ? target.instant() : target.range();
  });
}

const tableLegend = () => new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.Table).placement(LegendPlacement.Right).calcs(['lastNotNull', 'max']);
const lastValue = () => new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false);

/** A red threshold line/colour at `alertAt` (the alert threshold the panel's query is compared against). */
export function alertThreshold(alertAt: number): cog.Builder<dashboard.ThresholdsConfig> {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
    { value: null, color: 'green' },
    { value: alertAt, color: 'red' },
  ]);
}

export function timeseries(spec: PanelSpec, extra: { stacked?: boolean; thresholdAt?: number; min?: number; max?: number } = {}): TimeseriesPanelBuilder {
  const panel = new TimeseriesPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .legend(tableLegend())
    .targets(targets(spec.queries, false))
    .fillOpacity(extra.stacked ? 40 : 10);
  if (extra.stacked) panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  if (extra.thresholdAt !== undefined) panel.thresholds(alertThreshold(extra.thresholdAt)).thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
  if (extra.min !== undefined) panel.min(extra.min);
  if (extra.max !== undefined) panel.max(extra.max);
  return panel;
}

export function stat(spec: PanelSpec, extra: { thresholds?: cog.Builder<dashboard.ThresholdsConfig>; mappings?: dashboard.ValueMapping[] } = {}): StatPanelBuilder {
  const panel = new StatPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 6)
    .height(spec.height ?? 5)
    .reduceOptions(lastValue())
    .targets(targets(spec.queries, true));
  if (extra.thresholds) panel.thresholds(extra.thresholds);
  if (extra.mappings) panel.mappings(extra.mappings);
  return panel;
}

export function barGauge(spec: PanelSpec, range: { min: number; max: number }, thresholds?: cog.Builder<dashboard.ThresholdsConfig>): BarGaugePanelBuilder {
  const panel = new BarGaugePanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .min(range.min)
    .max(range.max)
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .reduceOptions(lastValue())
    .targets(targets(spec.queries, true));
  if (thresholds) panel.thresholds(thresholds);
  return panel;
}

export function stateTimeline(spec: PanelSpec, mappings: dashboard.ValueMapping[]): StateTimelinePanelBuilder {
  return new StateTimelinePanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .mappings(mappings)
    .targets(targets(spec.queries, false));
}

/** Value → text/colour mapping, e.g. the circuit breaker's 0/1/2. */
export function valueMapping(entries: Record<number, { text: string; color: string }>): dashboard.ValueMapping[] {
  const options: Record<string, dashboard.ValueMappingResult> = {};
  Object.entries(entries).forEach(([value, result], index) => {
    options[value] = { ...result, index };
  });
  return [{ type: dashboard.MappingType.ValueToText, options }];
}

/** A multi-value variable over one label of one metric; "All" matches with `.*`, so queries use `=~"$name"`. */
export function labelVariable(name: string, label: string, metric: string): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(`label_values(${metric}, ${name})`)
    .definition(`label_values(${metric}, ${name})`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all', selected: true });
}

/** Common dashboard settings; `build()` then assigns panel ids in layout order. */
export function dashboardBase(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['strangler-fig'])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s')
    .timezone('browser');
}

/** Builds the dashboard and numbers its panels (rows included) 1..n in layout order, as Grafana expects. */
export function buildWithPanelIds(builder: dashboard.DashboardBuilder): dashboard.Dashboard {
  const built = builder.build();
  (built.panels ?? []).forEach((panel, index) => {
    panel.id = index + 1;
  });
  return built;
}
