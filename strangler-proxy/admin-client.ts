import type { RecentSplitView } from './recent-split';
import { ProxyError } from './errors';

/** A client for the proxy's admin API (used by the `strangler routes|flip|explain` commands). */
export class ProxyAdminClient {
  /** The admin API's base URL, without a trailing slash. */
  readonly url: string;
  readonly token: string;

  constructor(options: { url: string; token: string }) {
    this.url = options.url.replace(/\/+$/, '');
    this.token = options.token;
  }

  /** `url` and `token` fall back to STRANGLER_ADMIN_URL (default http://127.0.0.1:8090) and STRANGLER_ADMIN_TOKEN. */
  static fromEnvironment(given: { url?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): ProxyAdminClient {
    const token = given.token ?? env.STRANGLER_ADMIN_TOKEN;
    if (!token) throw new ProxyError('SFG_PROXY_ADMIN_UNAUTHORISED', 'no admin token: pass --token or set STRANGLER_ADMIN_TOKEN');
    return new ProxyAdminClient({ url: given.url ?? env.STRANGLER_ADMIN_URL ?? 'http://127.0.0.1:8090', token });
  }

  async get<T>(pathAndQuery: string): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${this.token}` } });
    } catch (error) {
      throw new ProxyError('SFG_PROXY_ADMIN_UNREACHABLE', `cannot reach the proxy admin API at ${this.url}: ${(error as Error).message}`, { retriable: true, cause: error });
    }
    if (response.status === 401) throw new ProxyError('SFG_PROXY_ADMIN_UNAUTHORISED', 'the admin API refused the token (set --token or STRANGLER_ADMIN_TOKEN)');
    const text = await response.text();
    if (!response.ok) throw new ProxyError('SFG_PROXY_ADMIN_FAILED', `admin API ${pathAndQuery} answered ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }
}

/** Which configuration a proxy runs, and how its last reload went: tells replicas (and workers) apart. */
export interface ConfigState {
  /** Of the configuration in force, without listener addresses and token: equal on replicas that run the same file. */
  digest: string;
  loadedAt: string;
  lastReload: { ok: boolean; at: string; error?: string } | null;
}

/** Requests per side since the proxy started, and over the last minute (`lastMinute`). */
export interface RouteSplitView {
  legacy: number;
  extracted: number;
  extractedPercent: number;
  lastMinute: RecentSplitView;
}

/** The shape of GET /routes. */
export interface RoutesView {
  flagsReady: boolean;
  config: ConfigState;
  routes: Array<{
    id: string;
    order: number;
    match: { path: string; methods?: string[]; headers?: Record<string, string> };
    cluster: string;
    flag: string | null;
    rolloutPercent: number | null;
    stickiness: string;
    fallback: string;
    shadow: { enabled: boolean; flag: string | null; allowWrites: boolean } | null;
    circuit: string;
    clusterHealthy: boolean | null;
    split: RouteSplitView;
  }>;
  unmatched: { cluster: string; split: RouteSplitView };
  /** Each cluster's endpoints as this proxy sees them (absent in a view merged from several replicas). */
  clusters?: Record<string, ClusterView>;
}

export interface ClusterView {
  loadBalancing: string;
  endpoints: Array<{ url: string; healthy: boolean | null; ejected: boolean; outstanding: number }>;
}
