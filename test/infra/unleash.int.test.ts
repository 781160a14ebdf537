import { startUnleash, type Unleash } from 'unleash-client';
import { testEnv, UnleashAdmin, uniqueName } from '../helpers';

describe('real Unleash server', () => {
  const admin = new UnleashAdmin();
  const flag = uniqueName('smoke-flag').replace(/_/g, '-');
  let client: Unleash | undefined;

  afterAll(async () => {
    client?.destroy();
    await admin.archiveFlag(flag);
  });

  it('serves a flag created through the Admin API to an unleash-client', async () => {
    await admin.createFlag(flag);
    await admin.setRollout(flag, 100);
    const env = testEnv();
    client = await startUnleash({
      appName: 'strangler-smoke',
      url: env.unleashUrl,
      customHeaders: { Authorization: env.unleashClientToken },
      refreshInterval: 1000,
      disableMetrics: true,
      storageProvider: undefined,
    });
    expect(client.isEnabled(flag, { userId: 'u1' })).toBe(true);
    expect(client.isEnabled(`${flag}-missing`, { userId: 'u1' })).toBe(false);

    await admin.disable(flag);
    const deadline = Date.now() + 10_000;
    while (client.isEnabled(flag, { userId: 'u1' }) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(client.isEnabled(flag, { userId: 'u1' })).toBe(false);
  });
});
