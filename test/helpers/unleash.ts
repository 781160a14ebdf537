import { testEnv } from './env';

/**
 * A small client for the Unleash Admin API (project `default`, environment `development`), for tests that need
 * to create flags and move rollouts the way an operator would.
 */
export class UnleashAdmin {
  private readonly baseUrl: string;
  private readonly token: string;
  readonly project: string;
  readonly environment: string;

  constructor(options: { unleashUrl?: string; adminToken?: string; project?: string; environment?: string } = {}) {
    const env = testEnv();
    this.baseUrl = (options.unleashUrl ?? env.unleashUrl).replace(/\/+$/, '');
    this.token = options.adminToken ?? env.unleashAdminToken;
    this.project = options.project ?? 'default';
    this.environment = options.environment ?? 'development';
  }

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: this.token, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Unleash ${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  private featurePath(name: string): string {
    return `/admin/projects/${this.project}/features/${encodeURIComponent(name)}`;
  }

  async createFlag(name: string, description = 'created by strangler-fig tests'): Promise<void> {
    await this.request('POST', `/admin/projects/${this.project}/features`, { name, description, type: 'release' });
  }

  /**
   * Replaces the flag's strategies with one flexibleRollout at `percent`, sticky on `stickiness`
   * (`default` = userId, then sessionId, then random), and enables the flag in the environment.
   */
  async setRollout(name: string, percent: number, stickiness = 'default'): Promise<void> {
    const strategiesPath = `${this.featurePath(name)}/environments/${this.environment}/strategies`;
    const existing = (await this.request('GET', strategiesPath)) as Array<{ id: string }>;
    for (const strategy of existing) await this.request('DELETE', `${strategiesPath}/${strategy.id}`);
    await this.request('POST', strategiesPath, {
      name: 'flexibleRollout',
      parameters: { rollout: String(percent), stickiness, groupId: name },
      constraints: [],
    });
    await this.enable(name);
  }

  async enable(name: string): Promise<void> {
    await this.request('POST', `${this.featurePath(name)}/environments/${this.environment}/on`);
  }

  async disable(name: string): Promise<void> {
    await this.request('POST', `${this.featurePath(name)}/environments/${this.environment}/off`);
  }

  /**
   * Archives the flag, then deletes it from the archive, so a test run leaves nothing behind in Unleash. Unleash
   * 7.5 records the 'archived' lifecycle stage asynchronously, about a second after the archive call; deleting the
   * flag before that makes the server's own insert fail a foreign key, an unhandled rejection that stops the server.
   * So the delete waits for that stage; if it never shows, the flag stays archived.
   */
  async deleteFlag(name: string): Promise<void> {
    await this.request('DELETE', this.featurePath(name));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const stages = (await this.request('GET', `${this.featurePath(name)}/lifecycle`)) as Array<{ stage: string }>;
      if (stages.some((entry) => entry.stage === 'archived')) {
        await this.request('DELETE', `/admin/archive/${encodeURIComponent(name)}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
