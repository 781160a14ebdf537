import { DEFAULT_UNLEASH_URL } from '../options';
import { ProxyError } from '../errors';

interface StrategyView {
  id: string;
  name: string;
  parameters?: Record<string, string>;
  constraints?: unknown[];
  segments?: number[];
}

/** How long a deleted flag's archive is waited for before it is removed for good (see deleteFlag). */
const ARCHIVE_STAGE_WAIT_MS = 15_000;

/**
 * The Unleash Admin API as strangler-fig uses it, for one project and environment: create, switch, archive and
 * delete flags, and move a flag's flexibleRollout as an operator would in the UI (the existing strategy is updated in
 * place, its constraints, stickiness and groupId kept, so users stay in their buckets). One client serves
 * `strangler flip` and `rollout`, the case study and the tests.
 */
export class UnleashAdminClient {
  private readonly baseUrl: string;
  readonly project: string;
  readonly environment: string;

  constructor(private readonly options: { url: string; adminToken: string; project: string; environment: string }) {
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.project = options.project;
    this.environment = options.environment;
  }

  /** The URL falls back to UNLEASH_URL (default Unleash's own http://127.0.0.1:4242/api), the token to UNLEASH_ADMIN_TOKEN. */
  static fromEnvironment(given: { project: string; environment: string }, env: NodeJS.ProcessEnv = process.env): UnleashAdminClient {
    const adminToken = env.UNLEASH_ADMIN_TOKEN;
    if (!adminToken) throw new ProxyError('SFG_PROXY_UNLEASH_NO_TOKEN', 'no Unleash admin token: set UNLEASH_ADMIN_TOKEN (an admin API token of your Unleash)');
    return new UnleashAdminClient({ ...given, url: env.UNLEASH_URL || DEFAULT_UNLEASH_URL, adminToken });
  }

  private async call<T>(method: string, path: string, body?: unknown, accept: (status: number) => boolean = () => false): Promise<T> {
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
    if (!response.ok && !accept(response.status)) throw new ProxyError('SFG_PROXY_UNLEASH_REJECTED', `Unleash ${method} ${path} answered ${response.status}: ${text}`);
    return (text && response.ok ? JSON.parse(text) : undefined) as T;
  }

  private featurePath(flag: string): string {
    return `/admin/projects/${this.project}/features/${encodeURIComponent(flag)}`;
  }

  private strategiesPath(flag: string): string {
    return `${this.featurePath(flag)}/environments/${this.environment}/strategies`;
  }

  /** Creates a release flag, off in every environment; `ifMissing`: a flag of that name already there is kept. */
  async createFlag(flag: string, options: { description?: string; ifMissing?: boolean } = {}): Promise<void> {
    const body = { name: flag, description: options.description ?? '', type: 'release' };
    await this.call('POST', `/admin/projects/${this.project}/features`, body, (status) => options.ifMissing === true && status === 409);
  }

  async enable(flag: string): Promise<void> {
    await this.call('POST', `${this.featurePath(flag)}/environments/${this.environment}/on`);
  }

  async disable(flag: string): Promise<void> {
    await this.call('POST', `${this.featurePath(flag)}/environments/${this.environment}/off`);
  }

  /** A flexibleRollout at `percent` (updated in place when there is one), and the flag on in the environment. */
  async setRollout(flag: string, percent: number): Promise<void> {
    const strategies = await this.call<StrategyView[]>('GET', this.strategiesPath(flag));
    const existing = strategies.find((strategy) => strategy.name === 'flexibleRollout');
    const parameters = { stickiness: 'default', groupId: flag, ...existing?.parameters, rollout: String(percent) };
    if (existing) {
      await this.call('PUT', `${this.strategiesPath(flag)}/${existing.id}`, { name: 'flexibleRollout', parameters, constraints: existing.constraints ?? [], segments: existing.segments ?? [] });
    } else {
      await this.call('POST', this.strategiesPath(flag), { name: 'flexibleRollout', parameters, constraints: [] });
    }
    await this.enable(flag);
  }

  /** The flexibleRollout percentage in force (0 when the flag is off in the environment). */
  async readRollout(flag: string): Promise<{ enabled: boolean; percent: number | undefined }> {
    const feature = await this.call<{ environments?: Array<{ name: string; enabled: boolean; strategies?: StrategyView[] }> }>('GET', this.featurePath(flag));
    const environment = feature.environments?.find((candidate) => candidate.name === this.environment);
    const rollout = environment?.strategies?.find((strategy) => strategy.name === 'flexibleRollout')?.parameters?.rollout;
    return { enabled: environment?.enabled ?? false, percent: rollout === undefined ? undefined : Number(rollout) };
  }

  /**
   * Archives the flag, then deletes it from the archive, so nothing is left behind. Unleash 7.5 records the
   * 'archived' lifecycle stage asynchronously, about a second after the archive call; deleting the flag before that
   * makes the server's own insert fail a foreign key, an unhandled rejection that stops the server. So the delete
   * waits for that stage; if it never shows, the flag stays archived.
   */
  async deleteFlag(flag: string): Promise<void> {
    await this.call('DELETE', this.featurePath(flag));
    const deadline = Date.now() + ARCHIVE_STAGE_WAIT_MS;
    while (Date.now() < deadline) {
      const stages = await this.call<Array<{ stage: string }>>('GET', `${this.featurePath(flag)}/lifecycle`);
      if (stages.some((entry) => entry.stage === 'archived')) {
        await this.call('DELETE', `/admin/archive/${encodeURIComponent(flag)}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** The earlier name of UnleashAdminClient, kept for adopters' code. */
export const UnleashRolloutClient = UnleashAdminClient;
export type UnleashRolloutClient = UnleashAdminClient;
