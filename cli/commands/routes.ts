import { ProxyReplicas, type ReplicaState } from '../../strangler-proxy';
import { parseCommandArgs, UsageError, type Command } from '../command';

/** Options every command that talks to the proxy admin API accepts. */
export const ADMIN_OPTIONS = {
  admin: { type: 'string', multiple: true },
  'admin-dns': { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/** Help lines for --admin and --admin-dns, their descriptions starting at `column`. */
export function replicaHelp(column: number): string {
  const indent = ' '.repeat(column);
  const option = (name: string) => `  ${name}`.padEnd(column);
  return [
    `${option('--admin <url>')}a proxy replica's admin API; repeat it (or separate URLs with commas) for every replica`,
    `${indent}(default $STRANGLER_ADMIN_URL or http://127.0.0.1:8090)`,
    '  --admin-dns <host:port>',
    `${indent}every address the name resolves to is a replica's admin API, e.g. the Kubernetes headless`,
    `${indent}Service strangler-proxy-admin:8090 (default $STRANGLER_ADMIN_DNS; --admin wins)`,
  ].join('\n');
}

export const ADMIN_HELP = `${replicaHelp(21)}
  --token <token>    admin bearer token (default $STRANGLER_ADMIN_TOKEN)
  --json             print the raw JSON answer`;

/** The replicas named by --admin / --admin-dns / the environment. */
export function replicasOf(values: { admin?: string[]; 'admin-dns'?: string; token?: string }): Promise<ProxyReplicas> {
  if (values.admin?.length && values['admin-dns']) throw new UsageError('give --admin or --admin-dns, not both');
  return ProxyReplicas.fromEnvironment({ urls: values.admin, dns: values['admin-dns'], token: values.token });
}

const clock = (iso: string) => iso.slice(11, 19);
const firstLine = (text: string) => text.split('\n', 1)[0]!;

/** One line per replica: flags, configuration digest, last reload; then what the replicas disagree on. */
export function describeReplicas(replicas: ReplicaState[]): string[] {
  const rows = [['REPLICA', 'FLAGS', 'CONFIG', 'LOADED', 'LAST RELOAD']];
  for (const replica of replicas) {
    if (replica.error !== undefined) {
      rows.push([replica.url, 'UNREACHABLE', '-', '-', firstLine(replica.error)]);
      continue;
    }
    const reload = replica.config!.lastReload;
    rows.push([
      replica.url,
      replica.flagsReady ? 'ready' : 'NOT ready',
      replica.config!.digest,
      clock(replica.config!.loadedAt),
      reload === null ? 'none' : reload.ok ? `ok ${clock(reload.at)}` : `FAILED ${clock(reload.at)}: ${firstLine(reload.error ?? '')}`,
    ]);
  }
  const lines = [table(rows)];
  const digests = new Set(replicas.flatMap((replica) => (replica.config ? [replica.config.digest] : [])));
  if (digests.size > 1) lines.push(`replicas run ${digests.size} different configurations (${[...digests].join(', ')}): reload the ones behind`);
  return lines;
}

/** A route's rollout across replicas: '10%', or each value with how many replicas report it when they disagree. */
export function describeRollout(route: string, replicas: ReplicaState[]): string {
  const counts = new Map<string, number>();
  for (const replica of replicas) {
    if (!replica.rollouts) continue;
    const percent = replica.rollouts[route];
    const shown = percent === undefined ? 'absent' : percent === null ? '?' : `${percent}%`;
    counts.set(shown, (counts.get(shown) ?? 0) + 1);
  }
  if (counts.size === 1) return [...counts.keys()][0]!;
  return [...counts].map(([shown, count]) => `${shown} on ${count}`).join(', ');
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

const help = `Usage: strangler routes [options]

Lists the running proxy's routes in match order with their flag, rollout, circuit state and the traffic split:
requests per side over the last minute (LAST 1M, the share a rollout is giving now) and since the proxy started
(SINCE START), from GET /routes on the admin API.

With several replicas (--admin more than once, or --admin-dns), it first shows each replica's flag state,
configuration digest and last reload; the route table is then the sum of them all: splits add up, a rollout the
replicas disagree on shows each value and how many report it, a circuit shows its most open state. Exits 1 when a
replica cannot be reached or the replicas disagree (configuration or rollout).

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
    const { view, replicas } = await (await replicasOf(values)).routes();
    const disagreeing = view.routes.filter((route) => describeRollout(route.id, replicas).includes(' on '));
    const healthy = replicas.every((replica) => replica.error === undefined) && new Set(replicas.map((replica) => replica.config?.digest)).size === 1 && disagreeing.length === 0;
    if (values.json) {
      console.log(JSON.stringify(replicas.length > 1 ? { ...view, replicas } : view, null, 2));
      return healthy ? 0 : 1;
    }
    if (replicas.length > 1) console.log(`${describeReplicas(replicas).join('\n')}\n`);
    const rows = [['ROUTE', 'ORDER', 'MATCH', 'CLUSTER', 'FLAG', 'ROLLOUT', 'CIRCUIT', 'LAST 1M (LEGACY/NEW)', 'SINCE START (LEGACY/NEW)']];
    for (const route of view.routes) {
      rows.push([
        route.id,
        String(route.order),
        `${route.match.methods?.join(',') ?? '*'} ${route.match.path}`,
        route.cluster,
        route.flag ?? '-',
        describeRollout(route.id, replicas),
        route.circuit,
        describeSplit(route.split.lastMinute),
        describeSplit(route.split),
      ]);
    }
    const unmatched = view.unmatched.split;
    rows.push(['(unmatched)', '-', '*', view.unmatched.cluster, '-', '-', '-', describeSplit(unmatched.lastMinute), describeSplit(unmatched)]);
    console.log(table(rows));
    const balanced = Object.entries(view.clusters ?? {}).filter(([, cluster]) => cluster.endpoints.length > 1);
    if (balanced.length > 0) {
      const endpoints = [['CLUSTER', 'BALANCING', 'ENDPOINT', 'HEALTH', 'STATE', 'IN FLIGHT']];
      for (const [name, cluster] of balanced) {
        for (const endpoint of cluster.endpoints) {
          const health = endpoint.healthy === null ? 'unknown' : endpoint.healthy ? 'healthy' : 'UNHEALTHY';
          const state = endpoint.ejected ? 'EJECTED' : endpoint.healthy === false ? 'out' : 'in rotation';
          endpoints.push([name, cluster.loadBalancing, endpoint.url, health, state, String(endpoint.outstanding)]);
        }
      }
      console.log(`\n${table(endpoints)}`);
    }
    if (!view.flagsReady) console.log(`\nflags are NOT ready${replicas.length > 1 ? ' on every replica' : ''}: every flagged route is served by legacy${replicas.length > 1 ? ' there' : ''}`);
    if (replicas.length === 1) {
      const reload = replicas[0]!.config!.lastReload;
      console.log(`\nconfig ${view.config.digest} loaded ${clock(view.config.loadedAt)}; last reload: ${reload === null ? 'none' : reload.ok ? 'ok' : `FAILED: ${firstLine(reload.error ?? '')}`}`);
    }
    return healthy ? 0 : 1;
  },
};
