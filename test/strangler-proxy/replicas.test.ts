import { mergeInventories, mergeRoutesViews, ProxyReplicas, type RoutesView } from '../../strangler-proxy';

const split = (legacy: number, extracted: number, windowSeconds = 60) => ({
  legacy,
  extracted,
  extractedPercent: 0,
  lastMinute: { legacy, extracted, extractedPercent: 0, windowSeconds },
});

function view(rollout: number | null, circuit: string, counts: [number, number], flagsReady = true): RoutesView {
  return {
    flagsReady,
    config: { digest: 'abc', loadedAt: '2026-12-04T00:00:00.000Z', lastReload: null },
    routes: [
      {
        id: 'orders',
        order: 10,
        match: { path: '/api/orders/{**rest}' },
        cluster: 'orders',
        flag: 'strangler.orders',
        rolloutPercent: rollout,
        stickiness: 'userId',
        fallback: 'legacy-on-safe',
        shadow: null,
        circuit,
        clusterHealthy: true,
        split: split(...counts),
      },
    ],
    unmatched: { cluster: 'legacy', split: split(1, 0, 30) },
  };
}

describe('mergeRoutesViews', () => {
  it('adds splits up, keeps a rollout all agree on and shows the most open circuit', () => {
    const merged = mergeRoutesViews([view(10, 'closed', [9, 1]), view(10, 'open', [27, 3]), view(10, 'half-open', [0, 0])]);
    expect(merged.routes[0]).toMatchObject({ rolloutPercent: 10, circuit: 'open', split: { legacy: 36, extracted: 4, extractedPercent: 10 } });
    expect(merged.routes[0]!.split.lastMinute).toEqual({ legacy: 36, extracted: 4, extractedPercent: 10, windowSeconds: 60 });
    expect(merged.unmatched.split).toMatchObject({ legacy: 3, extracted: 0, lastMinute: { windowSeconds: 30 } });
    expect(merged.flagsReady).toBe(true);
  });

  it('has no rollout when replicas disagree, and flags ready only when ready everywhere', () => {
    const merged = mergeRoutesViews([view(10, 'closed', [1, 0]), view(20, 'closed', [1, 0], false)]);
    expect(merged.routes[0]!.rolloutPercent).toBeNull();
    expect(merged.flagsReady).toBe(false);
  });
});

describe('mergeInventories', () => {
  it('adds requests up per endpoint, keeps the latest sighting and sorts by requests', () => {
    const entry = (endpoint: string, requests: number, lastSeen: string) => ({ route: '(unmatched)', method: 'GET', endpoint, requests, lastSeen });
    expect(mergeInventories([[entry('/a', 2, '2026-12-04T01:00:00Z'), entry('/b', 1, '2026-12-04T01:00:00Z')], [entry('/b', 5, '2026-12-04T02:00:00Z')]])).toEqual([
      entry('/b', 6, '2026-12-04T02:00:00Z'),
      entry('/a', 2, '2026-12-04T01:00:00Z'),
    ]);
  });
});

describe('ProxyReplicas.fromEnvironment', () => {
  const env = { STRANGLER_ADMIN_TOKEN: 'a-token-long-enough' };
  const urls = (replicas: ProxyReplicas) => replicas.clients.map((client) => client.url);

  it('takes URLs from --admin (comma-separated too) or STRANGLER_ADMIN_URL, without duplicates', async () => {
    expect(urls(await ProxyReplicas.fromEnvironment({ urls: ['http://a:8090', 'http://b:8090/, http://a:8090'] }, env))).toEqual(['http://a:8090', 'http://b:8090']);
    expect(urls(await ProxyReplicas.fromEnvironment({}, { ...env, STRANGLER_ADMIN_URL: 'http://c:1,http://d:2' }))).toEqual(['http://c:1', 'http://d:2']);
    expect(urls(await ProxyReplicas.fromEnvironment({}, env))).toEqual(['http://127.0.0.1:8090']);
  });

  it('makes one URL per address a DNS name resolves to', async () => {
    const resolve = async (host: string) => (host === 'strangler-proxy-admin' ? ['10.0.0.7', '10.0.0.8', 'fd00::9', '10.0.0.7'] : []);
    const replicas = await ProxyReplicas.fromEnvironment({ dns: 'strangler-proxy-admin:8090' }, env, resolve);
    expect(urls(replicas)).toEqual(['http://10.0.0.7:8090', 'http://10.0.0.8:8090', 'http://[fd00::9]:8090']);
    expect(urls(await ProxyReplicas.fromEnvironment({}, { ...env, STRANGLER_ADMIN_DNS: 'strangler-proxy-admin:1' }, resolve))).toHaveLength(3);
    await expect(ProxyReplicas.fromEnvironment({ dns: 'nothing:8090' }, env, resolve)).rejects.toThrow("the proxy admin name 'nothing' resolves to no address");
    await expect(ProxyReplicas.fromEnvironment({ dns: 'no-port' }, env, resolve)).rejects.toThrow("must be host:port, got 'no-port'");
    await expect(ProxyReplicas.fromEnvironment({ dns: 'x:1' }, env, () => Promise.reject(new Error('ENOTFOUND x')))).rejects.toMatchObject({
      code: 'SFG_PROXY_ADMIN_UNREACHABLE',
      message: "cannot resolve the proxy admin name 'x': ENOTFOUND x",
    });
  });

  it('needs the admin token', async () => {
    await expect(ProxyReplicas.fromEnvironment({ urls: ['http://a:1'] }, {})).rejects.toMatchObject({ code: 'SFG_PROXY_ADMIN_UNAUTHORISED' });
  });
});
