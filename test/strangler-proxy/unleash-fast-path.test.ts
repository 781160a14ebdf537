import { eventually } from '../helpers/poll';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Unleash } from 'unleash-client';
import { UnleashFlagProvider } from '../../strangler-proxy';
import { compileFlag } from '../../strangler-proxy/flags/unleash';
import { silentLogger } from './harness';

const flexible = (rollout: number, extra: Record<string, unknown> = {}) => ({
  name: 'flexibleRollout',
  parameters: { rollout: String(rollout), stickiness: 'default', groupId: 'g', ...extra },
  constraints: [],
});

// Flag definitions as the Unleash client API serves them; `kind` is what the fast path compiles them to.
const FEATURES = [
  { kind: 'rollouts', feature: { name: 'thirty', enabled: true, strategies: [flexible(30)] } },
  { kind: 'general', feature: { name: 'no-group', enabled: true, strategies: [{ ...flexible(50), parameters: { rollout: '50', stickiness: 'default' } }] } },
  { kind: 'rollouts', feature: { name: 'two', enabled: true, strategies: [flexible(10, { groupId: 'a' }), flexible(20, { groupId: 'b' })] } },
  { kind: 'rollouts', feature: { name: 'zero', enabled: true, strategies: [flexible(0)] } },
  { kind: 'on', feature: { name: 'full', enabled: true, strategies: [{ name: 'default', parameters: {}, constraints: [] }] } },
  { kind: 'on', feature: { name: 'no-strategies', enabled: true, strategies: [] } },
  { kind: 'off', feature: { name: 'disabled', enabled: false, strategies: [flexible(100)] } },
  { kind: 'general', feature: { name: 'constrained', enabled: true, strategies: [{ ...flexible(100), constraints: [{ contextName: 'userId', operator: 'IN', values: ['user-7'] }] }] } },
  { kind: 'general', feature: { name: 'by-session', enabled: true, strategies: [flexible(40, { stickiness: 'sessionId' })] } },
  { kind: 'general', feature: { name: 'user-list', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'user-1,user-2' }, constraints: [] }] } },
] as const;

async function deadUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/api`;
}

describe('UnleashFlagProvider fast path', () => {
  it('compiles each kind of definition as expected', () => {
    for (const { kind, feature } of FEATURES) expect([feature.name, compileFlag(feature as never).kind]).toEqual([feature.name, kind]);
  });

  it('decides exactly as unleash-client for every definition, user and session', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-fast-path-'));
    const bootstrapFile = path.join(dir, 'bootstrap.json');
    fs.writeFileSync(bootstrapFile, JSON.stringify({ version: 2, features: FEATURES.map(({ feature }) => feature) }));
    const url = await deadUrl();
    const provider = new UnleashFlagProvider(
      { url, clientToken: 'unused', appName: 'fast-path-test', refreshIntervalMs: 60_000, requestTimeoutMs: 100, backupDir: path.join(dir, 'backup'), bootstrapFile, sendMetrics: false },
      { logger: silentLogger },
    );
    const reference = new Unleash({
      url,
      appName: 'fast-path-reference',
      refreshInterval: 0, // bootstrap only: never fetches
      disableMetrics: true,
      bootstrap: { filePath: bootstrapFile },
      storageProvider: { get: async () => undefined, set: async () => undefined },
      skipInstanceCountWarning: true,
    });
    reference.on('error', () => undefined);
    try {
      await provider.start();
      await new Promise<void>((resolve) => reference.once('ready', () => resolve()));
      await eventually(() => provider.isReady(), 5_000, 'the provider ready', 20);
      let compared = 0;
      let enabled = 0;
      for (const { feature } of FEATURES) {
        for (let i = 0; i < 1_000; i++) {
          for (const context of [{ userId: `user-${i}` }, { sessionId: `session-${i}` }, { userId: `user-${i}`, sessionId: `session-${i}` }]) {
            const mine = provider.isEnabled(feature.name, context);
            expect([feature.name, context, mine]).toEqual([feature.name, context, reference.isEnabled(feature.name, context)]);
            compared += 1;
            if (mine) enabled += 1;
          }
        }
      }
      expect(compared).toBe(30_000);
      expect(enabled).toBeGreaterThan(5_000); // the table is not all "off"
      expect(provider.isEnabled('unknown-flag', { userId: 'u' })).toBe(false);
    } finally {
      await provider.stop();
      reference.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
