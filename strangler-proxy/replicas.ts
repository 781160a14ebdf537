import { lookup } from 'node:dns/promises';
import { ProxyAdminClient, type ConfigState, type RoutesView, type RouteSplitView } from './admin-client';
import { CIRCUIT_STATE_NAMES } from './circuit';
import { ProxyError } from './errors';
import type { InventoryEntry } from './inventory';
import { extractedPercent } from './recent-split';

/** One proxy replica as `strangler routes|status|flip` show it. */
export interface ReplicaState {
  url: string;
  /** Why its admin API could not be read; nothing else is known then. */
  error?: string;
  flagsReady?: boolean;
  config?: ConfigState;
  /** Rollout % per route id as this replica sees it (null: the flag is unknown to it). */
  rollouts?: Record<string, number | null>;
}

type RouteView = RoutesView['routes'][number];

function sumSplits(splits: RouteSplitView[]): RouteSplitView {
  const legacy = splits.reduce((sum, split) => sum + split.legacy, 0);
  const extracted = splits.reduce((sum, split) => sum + split.extracted, 0);
  const recentLegacy = splits.reduce((sum, split) => sum + split.lastMinute.legacy, 0);
  const recentExtracted = splits.reduce((sum, split) => sum + split.lastMinute.extracted, 0);
  return {
    legacy,
    extracted,
    extractedPercent: extractedPercent({ legacy, extracted }),
    lastMinute: {
      legacy: recentLegacy,
      extracted: recentExtracted,
      extractedPercent: extractedPercent({ legacy: recentLegacy, extracted: recentExtracted }),
      windowSeconds: Math.min(...splits.map((split) => split.lastMinute.windowSeconds)),
    },
  };
}

const worstCircuit = (states: string[]) =>
  states.reduce((worst, state) => (CIRCUIT_STATE_NAMES.indexOf(state as never) > CIRCUIT_STATE_NAMES.indexOf(worst as never) ? state : worst), 'closed');

/**
 * Several proxies (replicas, or the workers of one) as one: splits add up, a rollout is the one every proxy reports
 * (null when they disagree), a circuit is the most open one, flags are ready when ready everywhere. Routes come in
 * the first view's order; `config` is the first view's (each proxy's own is in its `ReplicaState`).
 */
export function mergeRoutesViews(views: RoutesView[]): RoutesView {
  if (views.length === 1) return views[0]!;
  const byId = new Map<string, RouteView[]>();
  for (const view of views) for (const route of view.routes) byId.set(route.id, [...(byId.get(route.id) ?? []), route]);
  const routes = [...byId.values()].map((copies): RouteView => {
    const rollouts = new Set(copies.map((copy) => copy.rolloutPercent));
    const health = new Set(copies.map((copy) => copy.clusterHealthy));
    return {
      ...copies[0]!,
      rolloutPercent: rollouts.size === 1 && copies.length === views.length ? copies[0]!.rolloutPercent : null,
      circuit: worstCircuit(copies.map((copy) => copy.circuit)),
      clusterHealthy: health.has(false) ? false : health.size === 1 ? copies[0]!.clusterHealthy : null,
      split: sumSplits(copies.map((copy) => copy.split)),
    };
  });
  return {
    flagsReady: views.every((view) => view.flagsReady),
    config: views[0]!.config,
    routes,
    unmatched: { cluster: views[0]!.unmatched.cluster, split: sumSplits(views.map((view) => view.unmatched.split)) },
  };
}

/** The legacy inventories of several proxies as one: requests add up, the latest sighting wins, most requested first. */
export function mergeInventories(lists: InventoryEntry[][]): InventoryEntry[] {
  const merged = new Map<string, InventoryEntry>();
  for (const entry of lists.flat()) {
    const key = `${entry.route} ${entry.method} ${entry.endpoint}`;
    const seen = merged.get(key);
    merged.set(key, seen ? { ...seen, requests: seen.requests + entry.requests, lastSeen: seen.lastSeen > entry.lastSeen ? seen.lastSeen : entry.lastSeen } : { ...entry });
  }
  return [...merged.values()].sort((a, b) => b.requests - a.requests || a.endpoint.localeCompare(b.endpoint) || a.route.localeCompare(b.route) || a.method.localeCompare(b.method));
}

export type ResolveAll = (hostname: string) => Promise<string[]>;

const resolveAll: ResolveAll = async (hostname) => (await lookup(hostname, { all: true })).map((entry) => entry.address);

/**
 * Every proxy replica's admin API, read together. Which replicas: a list of admin URLs, or a DNS name whose every
 * address is one (a Kubernetes headless Service such as the base's `strangler-proxy-admin`).
 */
export class ProxyReplicas {
  constructor(readonly clients: ProxyAdminClient[]) {
    if (clients.length === 0) throw new ProxyError('SFG_PROXY_ADMIN_UNREACHABLE', 'no proxy admin URL given');
  }

  /**
   * `urls` (each may hold several, comma-separated) fall back to STRANGLER_ADMIN_URL, then http://127.0.0.1:8090;
   * `dns` (`host:port`, or STRANGLER_ADMIN_DNS) replaces them with one URL per address the name resolves to.
   */
  static async fromEnvironment(
    given: { urls?: string[]; dns?: string; token?: string },
    env: NodeJS.ProcessEnv = process.env,
    resolve: ResolveAll = resolveAll,
  ): Promise<ProxyReplicas> {
    const token = ProxyAdminClient.fromEnvironment({ token: given.token }, env).token;
    const dns = given.dns ?? (given.urls?.length ? undefined : env.STRANGLER_ADMIN_DNS);
    let urls: string[];
    if (dns) {
      const match = /^(.+):(\d+)$/.exec(dns);
      if (!match) throw new ProxyError('SFG_PROXY_ADMIN_UNREACHABLE', `the admin DNS name must be host:port, got '${dns}'`);
      const [, host, port] = match as unknown as [string, string, string];
      let addresses: string[];
      try {
        addresses = [...new Set(await resolve(host))];
      } catch (error) {
        throw new ProxyError('SFG_PROXY_ADMIN_UNREACHABLE', `cannot resolve the proxy admin name '${host}': ${(error as Error).message}`, { retriable: true, cause: error });
      }
      if (addresses.length === 0) throw new ProxyError('SFG_PROXY_ADMIN_UNREACHABLE', `the proxy admin name '${host}' resolves to no address`, { retriable: true });
      urls = addresses.map((address) => `http://${address.includes(':') ? `[${address}]` : address}:${port}`);
    } else {
      const listed = (given.urls?.length ? given.urls : [env.STRANGLER_ADMIN_URL ?? 'http://127.0.0.1:8090']).flatMap((url) => url.split(','));
      urls = [...new Set(listed.map((url) => url.trim()).filter(Boolean))];
    }
    return new ProxyReplicas(urls.map((url) => new ProxyAdminClient({ url, token })));
  }

  /** GET on every replica; the answers of those that answered, and each failure in its replica's state. */
  private async gather<T>(path: string): Promise<Array<{ url: string; answer?: T; error?: Error }>> {
    return Promise.all(
      this.clients.map((client) =>
        client.get<T>(path).then(
          (answer) => ({ url: client.url, answer }),
          (error: Error) => ({ url: client.url, error }),
        ),
      ),
    );
  }

  private static answered<T>(results: Array<{ answer?: T; error?: Error }>): T[] {
    const answers = results.flatMap((result) => (result.answer === undefined ? [] : [result.answer]));
    // A wrong token or a failing endpoint is the caller's to see, whatever the other replicas said.
    const refused = results.find((result) => result.error && (result.error as ProxyError).code !== 'SFG_PROXY_ADMIN_UNREACHABLE');
    if (refused) throw refused.error;
    if (answers.length === 0) throw results[0]!.error!;
    return answers;
  }

  /** The route table of every replica as one (see `mergeRoutesViews`), and what each replica reports. */
  async routes(): Promise<{ view: RoutesView; replicas: ReplicaState[] }> {
    const results = await this.gather<RoutesView>('/routes');
    const view = mergeRoutesViews(ProxyReplicas.answered(results));
    const replicas = results.map(({ url, answer, error }): ReplicaState =>
      answer
        ? { url, flagsReady: answer.flagsReady, config: answer.config, rollouts: Object.fromEntries(answer.routes.map((route) => [route.id, route.rolloutPercent])) }
        : { url, error: error!.message },
    );
    return { view, replicas };
  }

  /** What legacy still answers, over every replica that answered. */
  async inventory(): Promise<InventoryEntry[]> {
    const results = await this.gather<{ endpoints: InventoryEntry[] }>('/inventory');
    return mergeInventories(ProxyReplicas.answered(results).map((answer) => answer.endpoints));
  }
}
