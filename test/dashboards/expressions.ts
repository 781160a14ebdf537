import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { DASHBOARDS_DIR } from '../../dashboards';

/** One PromQL expression shipped in a dashboard or rule file, with where it comes from (for failure messages). */
export interface ShippedExpression {
  source: string;
  expr: string;
}

/**
 * Grafana's built-in variables as the integration test evaluates them. Dashboard variables (route, relay, ...)
 * become "All", i.e. `.*`, because every query uses them with `=~`.
 */
const GRAFANA_BUILTINS: Record<string, string> = { __rate_interval: '1m', __interval: '15s', __range: '5m' };

interface GrafanaDashboard {
  title: string;
  panels: Array<{ title: string; targets?: Array<{ expr?: string }> }>;
  templating: { list: Array<{ name: string; query: string }> };
}

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string }> }>;
}

/** `label_values(metric, label)` as the equivalent PromQL: one series per value of `label`. */
export function labelValuesAsPromql(query: string): string {
  const match = /^label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)$/.exec(query);
  if (!match) throw new Error(`unsupported variable query '${query}'`);
  return `count by (${match[2]}) (${match[1]})`;
}

/** Replaces dashboard and Grafana variables; throws on any `$` left over, so a new variable cannot slip through. */
export function substituteVariables(expr: string, dashboardVariables: string[]): string {
  const substituted = expr.replace(/\$(\w+)/g, (whole, name: string) => {
    if (name in GRAFANA_BUILTINS) return GRAFANA_BUILTINS[name] as string;
    return dashboardVariables.includes(name) ? '.*' : whole;
  });
  if (substituted.includes('$')) throw new Error(`unknown variable left in '${substituted}'`);
  return substituted;
}

/**
 * Adds `label="value"` to every selector of a strangler metric (raw `strangler_*` or recorded `level:strangler_*:op`),
 * so the expression only sees the series this test run produced.
 */
export function restrictToLabel(expr: string, label: string, value: string): string {
  return expr.replace(/((?:[a-zA-Z_:][a-zA-Z0-9_:]*)?strangler_[a-zA-Z0-9_:]*)(?:\{([^}]*)\})?/g, (_whole, metric: string, matchers?: string) => {
    const existing = matchers?.trim();
    return `${metric}{${label}="${value}"${existing ? `, ${existing}` : ''}}`;
  });
}

export function dashboardExpressions(): ShippedExpression[] {
  const dir = path.join(DASHBOARDS_DIR, 'grafana');
  return fs.readdirSync(dir).flatMap((file) => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as GrafanaDashboard;
    const variables = dashboard.templating.list.map((variable) => variable.name);
    const fromVariables = dashboard.templating.list.map((variable) => ({
      source: `${dashboard.title} / variable $${variable.name}`,
      expr: labelValuesAsPromql(variable.query),
    }));
    const fromPanels = dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).map((target, index) => ({
        source: `${dashboard.title} / ${panel.title} [${index}]`,
        expr: substituteVariables(target.expr ?? '', variables),
      })),
    );
    return [...fromVariables, ...fromPanels];
  });
}

export function ruleExpressions(): ShippedExpression[] {
  const dir = path.join(DASHBOARDS_DIR, 'prometheus', 'rules');
  return fs.readdirSync(dir).flatMap((file) => {
    const rules = YAML.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as RuleFile;
    return rules.groups.flatMap((group) =>
      group.rules.map((rule) => ({ source: `${file} / ${group.name} / ${rule.record ?? rule.alert}`, expr: rule.expr })),
    );
  });
}

export function ruleGroupNames(): string[] {
  const dir = path.join(DASHBOARDS_DIR, 'prometheus', 'rules');
  return fs.readdirSync(dir).flatMap((file) => (YAML.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as RuleFile).groups.map((group) => group.name));
}
