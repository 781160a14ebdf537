import { UnleashAdminClient } from '../../strangler-proxy';
import { testEnv } from './env';

/**
 * The framework's Unleash Admin API client on this machine's Unleash (project `default`, environment
 * `development`), for tests that create flags and move rollouts the way an operator would.
 */
export class UnleashAdmin extends UnleashAdminClient {
  constructor(options: { unleashUrl?: string; adminToken?: string; project?: string; environment?: string } = {}) {
    const env = testEnv();
    super({
      url: options.unleashUrl ?? env.unleashUrl,
      adminToken: options.adminToken ?? env.unleashAdminToken,
      project: options.project ?? 'default',
      environment: options.environment ?? 'development',
    });
  }
}
