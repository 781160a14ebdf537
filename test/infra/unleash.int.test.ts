import { startUnleash, type Unleash } from 'unleash-client';
import { eventually, testEnv, UnleashAdmin, uniqueName } from '../helpers';

describe('real Unleash server', () => {
  const admin = new UnleashAdmin();
  const flag = uniqueName('smoke-flag').replace(/_/g, '-');
  let client: Unleash | undefined;

  afterAll(async () => {
    client?.destroy();
    await admin.deleteFlag(flag);
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
    // A warm server may answer from its cache for a moment before the new flag's revision lands.
    const running = client;
    await eventually(() => running.isEnabled(flag, { userId: 'u1' }), 10_000, 'the new flag served as enabled');
    expect(client.isEnabled(`${flag}-missing`, { userId: 'u1' })).toBe(false);

    await admin.disable(flag);
    await eventually(() => !running.isEnabled(flag, { userId: 'u1' }), 10_000, 'the disabled flag served as off');
  });
});
