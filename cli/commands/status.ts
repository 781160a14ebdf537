import pg from 'pg';
import { loadRolloutFile, prometheusSamples, RolloutStore, type RolloutState, type Sample } from '../../rollout';
import { ProxyAdminClient, type InventoryEntry, type RoutesView } from '../../strangler-proxy';
import { integerOption, parseCommandArgs, printOrWatch, UsageError, type Command } from '../command';
import { ADMIN_HELP, ADMIN_OPTIONS, table } from './routes';

const help = `Usage: strangler status [options]

One screen for the whole migration: per route the rollout (and the rollout controller's step when --rollout-config
is given), the live split over the last minute, the failure ratio (5xx; on the new side also requests that fell back to
legacy) and p99 of each side over the last 5 minutes, real
shadow mismatches over the last hour and the circuit state; then sync lag per relay, drift per aggregate type,
whether the proxy's flags and its last config reload are good, and the legacy endpoints still answered (the
inventory: method and path pattern, most requested first). Route table and split come from the proxy admin API;
the rest from Prometheus (shown as ? when it cannot be reached).

Options:
${ADMIN_HELP}
  --prometheus <url>       Prometheus (default $PROMETHEUS_URL or http://127.0.0.1:9090)
  --selector <matchers>    extra label matchers on every Prometheus query, e.g. 'job="strangler-proxy"'
  --rollout-config <file>  a rollout file (docs/rollout.md): adds each route's rollout step and status
  --watch                  redraw every --interval-ms until Ctrl-C
  --interval-ms <ms>       with --watch: how often (default 2000)
  -h, --help               this text

Example:
  STRANGLER_ADMIN_TOKEN=strangler-admin-token npx strangler status --watch`;

export interface StatusReport {
  flagsReady: boolean;
  reloadFailed: boolean | undefined;
  prometheusError?: string;
  routes: Array<{
    route: string;
    rolloutPercent: number | null;
    rollout?: { status: string; step: string; reason: string | null };
    lastMinute: { legacy: number; extracted: number; extractedPercent: number };
    errorRatio: { legacy?: number; extracted?: number };
    p99Seconds: { legacy?: number; extracted?: number };
    shadowMismatchesLastHour?: number;
    circuit: string;
  }>;
  syncLagSeconds: Record<string, number>;
  driftRows: Record<string, number>;
  /** What legacy still answers since the proxy started, most requested first (GET /inventory). */
  legacyEndpoints: InventoryEntry[];
}

const byLabels = (samples: Sample[], ...names: string[]) => new Map(samples.map((sample) => [names.map((name) => sample.labels[name] ?? '').join('|'), sample.value]));

async function collect(values: { admin?: string; token?: string; prometheus?: string; selector?: string; 'rollout-config'?: string }): Promise<StatusReport> {
  const admin = ProxyAdminClient.fromEnvironment({ url: values.admin, token: values.token });
  const [view, inventory] = await Promise.all([admin.get<RoutesView>('/routes'), admin.get<{ endpoints: InventoryEntry[] }>('/inventory')]);
  const selector = values.selector ? `,${values.selector}` : '';
  const inner = values.selector ?? '';
  const query = prometheusSamples(values.prometheus ?? process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:9090');
  const expressions = {
    requests: `sum by (route, target) (rate(strangler_proxy_requests_total{${inner}}[5m]))`,
    errors: `sum by (route, target) (rate(strangler_proxy_requests_total{code=~"5.."${selector}}[5m]))`,
    p99: `histogram_quantile(0.99, sum by (route, target, le) (rate(strangler_proxy_request_duration_seconds_bucket{${inner}}[5m])))`,
    fallbacks: `sum by (route) (rate(strangler_proxy_fallbacks_total{${inner}}[5m]))`,
    mismatches: `sum by (route) (increase(strangler_proxy_shadow_comparisons_total{result="mismatch"${selector}}[1h]))`,
    lag: 'max by (relay) (strangler_outbox_lag_seconds)',
    drift: 'sum by (aggregatetype) (strangler_sync_drift_rows)',
    reloadFailed: `max(strangler_proxy_config_reload_failed{${inner}})`,
  };
  let figures: Record<keyof typeof expressions, Sample[]> | undefined;
  let prometheusError: string | undefined;
  try {
    const names = Object.keys(expressions) as Array<keyof typeof expressions>;
    const answers = await Promise.all(names.map((name) => query(expressions[name])));
    figures = Object.fromEntries(names.map((name, index) => [name, answers[index]!])) as Record<keyof typeof expressions, Sample[]>;
  } catch (error) {
    prometheusError = (error as Error).message;
  }
  let rollouts: Map<string, RolloutState> | undefined;
  let rolloutPlans: ReturnType<typeof loadRolloutFile> | undefined;
  if (values['rollout-config']) {
    rolloutPlans = loadRolloutFile(values['rollout-config']);
    const pool = new pg.Pool({ connectionString: rolloutPlans.database.url, max: 1 });
    pool.on('error', () => undefined);
    try {
      const store = new RolloutStore(pool, rolloutPlans.database.schema);
      await store.migrate();
      rollouts = new Map((await store.list()).map((state) => [state.route, state]));
    } finally {
      await pool.end();
    }
  }
  const requests = figures && byLabels(figures.requests, 'route', 'target');
  const errors = figures && byLabels(figures.errors, 'route', 'target');
  const p99 = figures && byLabels(figures.p99, 'route', 'target');
  const mismatches = figures && byLabels(figures.mismatches, 'route');
  const fallbacks = figures && byLabels(figures.fallbacks, 'route');
  // As the rollout analysis counts it: a request of the new side that fell back to legacy failed there.
  const ratio = (route: string, target: string) => {
    const fellBack = target === 'extracted' ? (fallbacks?.get(route) ?? 0) : 0;
    const total = (requests?.get(`${route}|${target}`) ?? 0) + fellBack;
    return total ? ((errors?.get(`${route}|${target}`) ?? 0) + fellBack) / total : undefined;
  };
  return {
    flagsReady: view.flagsReady,
    reloadFailed: figures?.reloadFailed[0] === undefined ? undefined : figures.reloadFailed[0].value > 0,
    ...(prometheusError ? { prometheusError } : {}),
    routes: view.routes.map((route) => {
      const state = rollouts?.get(route.id);
      const plan = rolloutPlans?.rollouts.find((candidate) => candidate.route === route.id);
      const step = state && plan ? plan.steps[state.stepIndex] : undefined;
      return {
        route: route.id,
        rolloutPercent: route.rolloutPercent,
        ...(plan ? { rollout: { status: state?.status ?? 'not started', step: state ? `${state.stepIndex + 1}/${plan.steps.length} ${step === 'shadow' ? 'shadow' : `${step}%`}` : '-', reason: state?.reason ?? null } } : {}),
        lastMinute: route.split.lastMinute,
        errorRatio: { legacy: ratio(route.id, 'legacy'), extracted: ratio(route.id, 'extracted') },
        p99Seconds: { legacy: p99?.get(`${route.id}|legacy`), extracted: p99?.get(`${route.id}|extracted`) },
        ...(mismatches ? { shadowMismatchesLastHour: Math.round(mismatches.get(route.id) ?? 0) } : {}),
        circuit: route.circuit,
      };
    }),
    syncLagSeconds: Object.fromEntries((figures?.lag ?? []).map((sample) => [sample.labels.relay ?? '', sample.value])),
    driftRows: Object.fromEntries((figures?.drift ?? []).map((sample) => [sample.labels.aggregatetype ?? '', sample.value])),
    legacyEndpoints: inventory.endpoints,
  };
}

const percent = (value: number | undefined) => (value === undefined ? '-' : `${(value * 100).toFixed(2)}%`);
const millis = (value: number | undefined) => (value === undefined ? '-' : `${(value * 1000).toFixed(0)}ms`);

export function formatReport(report: StatusReport): string {
  const withRollouts = report.routes.some((route) => route.rollout);
  const header = ['ROUTE', 'ROLLOUT', ...(withRollouts ? ['STEP', 'STATUS'] : []), 'LAST 1M NEW', 'FAILED LEGACY/NEW', 'P99 LEGACY/NEW', 'MISMATCHES 1H', 'CIRCUIT'];
  const rows = report.routes.map((route) => [
    route.route,
    route.rolloutPercent === null ? '-' : `${route.rolloutPercent}%`,
    ...(withRollouts ? [route.rollout?.step ?? '-', route.rollout ? `${route.rollout.status}${route.rollout.reason ? ` (${route.rollout.reason})` : ''}` : '-'] : []),
    `${route.lastMinute.extractedPercent}% of ${route.lastMinute.legacy + route.lastMinute.extracted}`,
    `${percent(route.errorRatio.legacy)} / ${percent(route.errorRatio.extracted)}`,
    `${millis(route.p99Seconds.legacy)} / ${millis(route.p99Seconds.extracted)}`,
    route.shadowMismatchesLastHour === undefined ? '?' : String(route.shadowMismatchesLastHour),
    route.circuit,
  ]);
  const lag = Object.entries(report.syncLagSeconds).map(([relay, seconds]) => `${relay} ${seconds.toFixed(1)}s`);
  const drift = Object.entries(report.driftRows).map(([aggregate, rows]) => `${aggregate} ${rows}`);
  return [
    table([header, ...rows]),
    '',
    `sync lag: ${report.prometheusError ? '?' : lag.join(', ') || 'no relay reporting'}`,
    `drift rows: ${report.prometheusError ? '?' : drift.join(', ') || 'no verify run reported'}`,
    `flags: ${report.flagsReady ? 'ready' : 'NOT ready (every flagged route is served by legacy)'}; last config reload: ${report.reloadFailed === undefined ? '?' : report.reloadFailed ? 'FAILED (the previous table is in force)' : 'ok'}`,
    ...(report.prometheusError ? [`Prometheus: ${report.prometheusError}`] : []),
    '',
    `legacy still answers ${report.legacyEndpoints.length} endpoint${report.legacyEndpoints.length === 1 ? '' : 's'}${report.legacyEndpoints.length ? ', most requested first:' : ''}`,
    ...report.legacyEndpoints.slice(0, 10).map((entry) => `  ${String(entry.requests).padStart(8)}  ${entry.method.padEnd(7)} ${entry.endpoint}  (route ${entry.route}, last ${entry.lastSeen.slice(11, 19)})`),
  ].join('\n');
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'the whole migration on one screen: rollouts, split, errors and p99 per side, mismatches, sync lag, drift',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...ADMIN_OPTIONS,
      prometheus: { type: 'string' },
      selector: { type: 'string' },
      'rollout-config': { type: 'string' },
      watch: { type: 'boolean', default: false },
      'interval-ms': { type: 'string' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (values['interval-ms'] !== undefined && !values.watch) throw new UsageError('--interval-ms goes with --watch');
    const intervalMs = integerOption('interval-ms', values['interval-ms'], { min: 100, fallback: 2_000 });
    const show = async () => {
      const report = await collect(values);
      return values.json ? JSON.stringify(report) : formatReport(report);
    };
    return printOrWatch(show, { watch: values.watch, json: values.json, intervalMs });
  },
};
