import { ProxyAdminClient, type RoutesView } from '../../strangler-proxy';
import { parseCommandArgs, UsageError, type Command } from '../command';

/** Options every command that talks to the proxy admin API accepts. */
export const ADMIN_OPTIONS = {
  admin: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

export const ADMIN_HELP = `  --admin <url>      proxy admin API (default $STRANGLER_ADMIN_URL or http://127.0.0.1:8090)
  --token <token>    admin bearer token (default $STRANGLER_ADMIN_TOKEN)
  --json             print the raw JSON answer`;

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

const help = `Usage: strangler routes [options]

Lists the running proxy's routes in match order with their flag, rollout, circuit state and the traffic split:
requests per side over the last minute (LAST 1M, the share a rollout is giving now) and since the proxy started
(SINCE START), from GET /routes on the admin API.

Options:
${ADMIN_HELP}
  -h, --help         this text

Example:
  STRANGLER_ADMIN_TOKEN=strangler-admin-token npx strangler routes`;

function describeSplit(split: { legacy: number; extracted: number; extractedPercent: number }): string {
  return `${split.legacy}/${split.extracted} = ${split.extractedPercent}% new`;
}

export const routesCommand: Command = {
  name: 'routes',
  summary: 'show the proxy route table, flag state and live legacy/extracted split',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, ADMIN_OPTIONS);
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const view = await ProxyAdminClient.fromEnvironment({ url: values.admin, token: values.token }).get<RoutesView>('/routes');
    if (values.json) {
      console.log(JSON.stringify(view, null, 2));
      return 0;
    }
    const rows = [['ROUTE', 'ORDER', 'MATCH', 'CLUSTER', 'FLAG', 'ROLLOUT', 'CIRCUIT', 'LAST 1M (LEGACY/NEW)', 'SINCE START (LEGACY/NEW)']];
    for (const route of view.routes) {
      rows.push([
        route.id,
        String(route.order),
        `${route.match.methods?.join(',') ?? '*'} ${route.match.path}`,
        route.cluster,
        route.flag ?? '-',
        route.rolloutPercent === null ? '?' : `${route.rolloutPercent}%`,
        route.circuit,
        describeSplit(route.split.lastMinute),
        describeSplit(route.split),
      ]);
    }
    const unmatched = view.unmatched.split;
    rows.push(['(unmatched)', '-', '*', view.unmatched.cluster, '-', '-', '-', describeSplit(unmatched.lastMinute), describeSplit(unmatched)]);
    console.log(table(rows));
    if (!view.flagsReady) console.log('\nflags are NOT ready: every flagged route is served by legacy');
    return 0;
  },
};
