import pg from 'pg';
import { collectStatus, loadRolloutFile, prometheusSamples, RolloutStore, type StatusReport } from '../../rollout';
import { integerOption, parseCommandArgs, printOrWatch, UsageError, type Command } from '../command';
import { ADMIN_HELP, ADMIN_OPTIONS, describeReplicas, replicasOf, table } from './routes';

const help = `Usage: strangler status [options]

One screen for the whole migration: per route the rollout (and the rollout controller's step when --rollout-config
is given), the live split over the last minute, the failure ratio (5xx; on the new side also requests that fell back to
legacy) and p99 of each side over the last 5 minutes, real
shadow mismatches over the last hour and the circuit state; then sync lag per relay, drift per aggregate type,
whether the proxy's flags and its last config reload are good, and the legacy endpoints still answered (the
inventory: method and path pattern, most requested first). With several proxy replicas (--admin more than once, or
--admin-dns) the split and the inventory are summed over them, and each replica's flags, configuration digest and
last reload are listed. Route table and split come from the proxy admin API;
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

async function collect(values: { admin?: string[]; 'admin-dns'?: string; token?: string; prometheus?: string; selector?: string; 'rollout-config'?: string }): Promise<StatusReport> {
  const admin = await replicasOf(values);
  const query = prometheusSamples(values.prometheus ?? process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:9090');
  if (!values['rollout-config']) return collectStatus({ admin, query, selector: values.selector });
  const file = loadRolloutFile(values['rollout-config']);
  const pool = new pg.Pool({ connectionString: file.database.url, max: 1 });
  pool.on('error', () => undefined);
  try {
    const store = new RolloutStore(pool, file.database.schema);
    await store.migrate();
    return await collectStatus({ admin, query, selector: values.selector, plans: file.rollouts, store });
  } finally {
    await pool.end();
  }
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
    ...(report.replicas.length > 1 ? ['', ...describeReplicas(report.replicas)] : []),
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
