import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Unleash } from 'unleash-client';
import { FileFlagProvider, UnleashFlagProvider } from '../../strangler-proxy';
import { testEnv, UnleashAdmin, uniqueName } from '../helpers';
import { silentLogger, waitFor } from './harness';

const USERS = Array.from({ length: 2_000 }, (_, n) => `user-${n}`);
const PERCENTAGES = [1, 10, 25, 50, 90];

/**
 * The file provider claims to bucket exactly like Unleash: moving from one to the other must keep every user on the
 * same side. Checked against the real Unleash server, through both the proxy's provider (its precompiled fast path)
 * and a plain unleash-client, at several percentages; and raising a rollout must only ever add users.
 */
describe('flag providers bucket users alike (real Unleash)', () => {
  const env = testEnv();
  const admin = new UnleashAdmin();
  const flag = uniqueName('sfg-equivalence').replace(/_/g, '-');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-equivalence-'));
  const flagFile = path.join(dir, 'flags.yaml');
  let unleashProvider: UnleashFlagProvider;
  let reference: Unleash;
  let fileProvider: FileFlagProvider;

  beforeAll(async () => {
    await admin.createFlag(flag);
    await admin.setRollout(flag, 0);
    unleashProvider = new UnleashFlagProvider(
      { url: env.unleashUrl, clientToken: env.unleashClientToken, appName: uniqueName('sfg-equivalence'), refreshIntervalMs: 200, backupDir: path.join(dir, 'backup'), sendMetrics: false },
      { logger: silentLogger },
    );
    await unleashProvider.start();
    reference = new Unleash({
      url: env.unleashUrl,
      appName: uniqueName('sfg-equivalence-reference'),
      customHeaders: { Authorization: env.unleashClientToken },
      refreshInterval: 200,
      disableMetrics: true,
      storageProvider: { get: async () => undefined, set: async () => undefined },
      skipInstanceCountWarning: true,
    });
    fs.writeFileSync(flagFile, `flags:\n  ${flag}: { rollout: 0 }\n`);
    fileProvider = new FileFlagProvider({ path: flagFile, pollIntervalMs: 50 }, { logger: silentLogger });
    await fileProvider.start();
  });
  afterAll(async () => {
    await unleashProvider?.stop();
    reference?.destroy();
    await fileProvider?.stop();
    await admin.deleteFlag(flag).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The rollout the reference client serves for the flag. */
  const referenceRollout = () => Number(reference.getFeatureToggleDefinition(flag)?.strategies?.[0]?.parameters?.rollout ?? -1);

  it('agrees on 2,000 users at 1, 10, 25, 50 and 90 %, and a higher rollout only adds users', async () => {
    const onAt = new Map<string, Array<Set<string>>>([['unleash', []], ['file', []]]);
    for (const percent of PERCENTAGES) {
      await admin.setRollout(flag, percent);
      fs.writeFileSync(flagFile, `flags:\n  ${flag}: { rollout: ${percent} }\n`);
      await waitFor(() => [unleashProvider.rolloutPercent(flag), referenceRollout(), fileProvider.rolloutPercent(flag)], (seen) => seen.every((value) => value === percent), 10_000);

      const byUnleash = new Set(USERS.filter((userId) => unleashProvider.isEnabled(flag, { userId })));
      const byReference = new Set(USERS.filter((userId) => reference.isEnabled(flag, { userId })));
      const byFile = new Set(USERS.filter((userId) => fileProvider.isEnabled(flag, { userId })));
      expect([percent, [...byUnleash]]).toEqual([percent, [...byReference]]);
      expect([percent, [...byFile]]).toEqual([percent, [...byReference]]);
      // About `percent` of users (binomial: within 4 points for 2,000 users), so the sets are not trivially equal.
      expect(Math.abs((byReference.size / USERS.length) * 100 - percent)).toBeLessThan(4);
      onAt.get('unleash')!.push(byUnleash);
      onAt.get('file')!.push(byFile);
    }
    for (const [provider, sets] of onAt) {
      for (let step = 1; step < sets.length; step += 1) {
        const dropped = [...sets[step - 1]!].filter((userId) => !sets[step]!.has(userId));
        expect([provider, PERCENTAGES[step - 1], PERCENTAGES[step], dropped]).toEqual([provider, PERCENTAGES[step - 1], PERCENTAGES[step], []]);
      }
    }
  });
});
