import { UnleashRolloutClient } from '../strangler-proxy';

/**
 * The Unleash Admin API calls the stack needs: create the route flags (the proxy's UnleashRolloutClient moves
 * rollouts but does not create flags) and set a rollout, as `strangler flip` does. Project `default`,
 * environment `development`, as infra/ configures Unleash.
 */
export class UnleashFlags {
  private readonly baseUrl: string;
  private readonly rollouts: UnleashRolloutClient;

  constructor(
    unleashUrl: string,
    private readonly adminToken: string,
    private readonly project = 'default',
    environment = 'development',
  ) {
    this.baseUrl = unleashUrl.replace(/\/+$/, '');
    this.rollouts = new UnleashRolloutClient({ url: unleashUrl, adminToken, project, environment });
  }

  /** Creates the flag unless it exists (Unleash answers 409 then). It starts off: every request on legacy. */
  async ensureFlag(flag: string, description: string): Promise<void> {
    const response = await fetch(`${this.baseUrl}/admin/projects/${this.project}/features`, {
      method: 'POST',
      headers: { authorization: this.adminToken, 'content-type': 'application/json' },
      body: JSON.stringify({ name: flag, description, type: 'release' }),
    });
    if (!response.ok && response.status !== 409) throw new Error(`Unleash: creating flag ${flag} answered ${response.status}: ${await response.text()}`);
  }

  /** A flexibleRollout at `percent` (sticky per user; 0 sends everyone to legacy), flag on. */
  setRollout(flag: string, percent: number): Promise<void> {
    return this.rollouts.setRollout(flag, percent);
  }
}
