import { DEFAULT_UNLEASH_URL } from '../options';
import { ProxyError } from '../errors';

interface StrategyView {
  id: string;
  name: string;
  parameters?: Record<string, string>;
  constraints?: unknown[];
  segments?: number[];
}

/**
 * Moves a flag's flexibleRollout through the Unleash Admin API, as an operator would in the UI: the existing
 * flexibleRollout strategy is updated in place (constraints, stickiness and groupId kept, so users stay in their
 * buckets), or one is added; the flag is switched on in the environment. `readRollout` reads it back.
 */
export class UnleashRolloutClient {
  private readonly baseUrl: string;

  constructor(private readonly options: { url: string; adminToken: string; project: string; environment: string }) {
    this.baseUrl = options.url.replace(/\/+$/, '');
  }

  /** The URL falls back to UNLEASH_URL (default Unleash's own http://127.0.0.1:4242/api), the token to UNLEASH_ADMIN_TOKEN. */
  static fromEnvironment(given: { project: string; environment: string }, env: NodeJS.ProcessEnv = process.env): UnleashRolloutClient {
    const adminToken = env.UNLEASH_ADMIN_TOKEN;
    if (!adminToken) throw new ProxyError('SFG_PROXY_UNLEASH_NO_TOKEN', 'no Unleash admin token: set UNLEASH_ADMIN_TOKEN (an admin API token of your Unleash)');
    return new UnleashRolloutClient({ ...given, url: env.UNLEASH_URL || DEFAULT_UNLEASH_URL, adminToken });
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { authorization: this.options.adminToken, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ProxyError('SFG_PROXY_UNLEASH_UNREACHABLE', `cannot reach Unleash at ${this.baseUrl}: ${(error as Error).message}`, { retriable: true, cause: error });
    }
    const text = await response.text();
    if (!response.ok) throw new ProxyError('SFG_PROXY_UNLEASH_REJECTED', `Unleash ${method} ${path} answered ${response.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private strategiesPath(flag: string): string {
    return `/admin/projects/${this.options.project}/features/${encodeURIComponent(flag)}/environments/${this.options.environment}/strategies`;
  }

  async setRollout(flag: string, percent: number): Promise<void> {
    const strategies = await this.call<StrategyView[]>('GET', this.strategiesPath(flag));
    const existing = strategies.find((strategy) => strategy.name === 'flexibleRollout');
    const parameters = { stickiness: 'default', groupId: flag, ...existing?.parameters, rollout: String(percent) };
    if (existing) {
      await this.call('PUT', `${this.strategiesPath(flag)}/${existing.id}`, { name: 'flexibleRollout', parameters, constraints: existing.constraints ?? [], segments: existing.segments ?? [] });
    } else {
      await this.call('POST', this.strategiesPath(flag), { name: 'flexibleRollout', parameters, constraints: [] });
    }
    await this.call('POST', `/admin/projects/${this.options.project}/features/${encodeURIComponent(flag)}/environments/${this.options.environment}/on`);
  }

  /** The flexibleRollout percentage in force (0 when the flag is off in the environment). */
  async readRollout(flag: string): Promise<{ enabled: boolean; percent: number | undefined }> {
    const feature = await this.call<{ environments?: Array<{ name: string; enabled: boolean; strategies?: StrategyView[] }> }>(
      'GET',
      `/admin/projects/${this.options.project}/features/${encodeURIComponent(flag)}`,
    );
    const environment = feature.environments?.find((candidate) => candidate.name === this.options.environment);
    const rollout = environment?.strategies?.find((strategy) => strategy.name === 'flexibleRollout')?.parameters?.rollout;
    return { enabled: environment?.enabled ?? false, percent: rollout === undefined ? undefined : Number(rollout) };
  }
}
