import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigInvalidError, loadProxyConfigFile, parseProxyConfig } from '../../strangler-proxy';
import { parsePathTemplate, templateCovers } from '../../strangler-proxy/template';

const base = {
  admin: { token: 'a-long-admin-token' },
  flags: { unleash: { clientToken: 'client-token' } },
  clusters: { legacy: { url: 'http://127.0.0.1:3000' }, orders: { url: 'http://127.0.0.1:3104' } },
};

function issuesOf(input: unknown, env: NodeJS.ProcessEnv = {}): Array<{ path: string; message: string }> {
  try {
    parseProxyConfig(input, env);
  } catch (error) {
    if (error instanceof ConfigInvalidError) return error.issues;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

describe('parseProxyConfig', () => {
  it('fills documented defaults', () => {
    const config = parseProxyConfig({ ...base, routes: [{ id: 'orders', order: 10, match: { path: '/api/orders/{**rest}' }, cluster: 'orders', flag: 'f' }] }, {});
    expect(config.proxy).toEqual({ host: '0.0.0.0', port: 8080, workers: 1 });
    expect(config.admin.port).toBe(8090);
    expect(config.clusters.orders).toMatchObject({ connectTimeoutMs: 1000, responseTimeoutMs: 30000, healthPath: '/healthz', circuit: { failureThreshold: 5, openMs: 10000 } });
    expect(config.routes[0]).toMatchObject({ stickiness: 'user', fallback: 'safe-methods', maxBodyBytes: 10485760 });
    expect(config.flags.unleash).toMatchObject({ url: 'http://127.0.0.1:4242/api', backupDir: '.strangler/unleash-backup' });
  });

  it('takes Unleash from UNLEASH_URL and UNLEASH_CLIENT_TOKEN, and has no client token of its own', () => {
    const { flags: _flags, ...withoutFlags } = base;
    const config = parseProxyConfig(withoutFlags, { UNLEASH_URL: 'http://flags.internal:4242/api', UNLEASH_CLIENT_TOKEN: 'from-env' });
    expect(config.flags.unleash).toMatchObject({ url: 'http://flags.internal:4242/api', clientToken: 'from-env' });
    expect(issuesOf(withoutFlags)).toEqual([{ path: 'flags.unleash.clientToken', message: 'required with the unleash provider: set it here or in UNLEASH_CLIENT_TOKEN' }]);
    expect(parseProxyConfig({ ...withoutFlags, flags: { provider: 'file' } }, {}).flags.provider).toBe('file');
  });

  it('reports every problem at once, each with its path', () => {
    const issues = issuesOf({
      admin: { token: 'short' },
      proxy: { port: 'eighty' },
      clusters: { orders: { url: 'not a url', timeoutMs: 5 } },
      routes: [
        { id: 'a', order: 1, match: { path: '/api/{**rest}' }, cluster: 'orders' },
        { id: 'a', order: 2, match: { path: '/api/orders' }, cluster: 'nowhere' },
        { id: 'c', order: 2, match: { path: '/x/{**rest}/y' }, cluster: 'orders', stickiness: 'cookie' },
      ],
    });
    const paths = issues.map((issue) => issue.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'admin.token',
        'proxy.port',
        'clusters.orders.url',
        'clusters.orders.timeoutMs',
        'clusters',
        'routes.1.id',
        'routes.1.cluster',
        'routes.1.match',
        'routes.2.order',
        'routes.2.match.path',
        'routes.2.stickiness',
      ]),
    );
    expect(issues.find((issue) => issue.path === 'clusters.orders.timeoutMs')!.message).toBe('unknown key');
    expect(issues.find((issue) => issue.path === 'clusters')!.message).toContain("'legacy' cluster is required");
    expect(issues.find((issue) => issue.path === 'routes.1.cluster')!.message).toContain("unknown cluster 'nowhere'");
    expect(issues.find((issue) => issue.path === 'routes.1.match')!.message).toContain('unreachable: routes.0');
  });

  it('rejects a route that an earlier one makes unreachable, considering methods and headers', () => {
    const route = (id: string, order: number, match: object) => ({ id, order, match, cluster: 'orders' });
    expect(
      issuesOf({ ...base, routes: [route('all', 1, { path: '/api/orders/{id}' }), route('one', 2, { path: '/api/orders/42', methods: ['GET'] })] }).map((i) => i.path),
    ).toEqual(['routes.1.match']);
    // Narrower earlier routes leave the later one reachable.
    expect(() =>
      parseProxyConfig(
        {
          ...base,
          routes: [
            route('get', 1, { path: '/api/orders/{**rest}', methods: ['GET'] }),
            route('beta', 2, { path: '/api/orders/{**rest}', headers: { 'X-Beta': '1' } }),
            route('rest', 3, { path: '/api/orders/{**rest}' }),
          ],
        },
        {},
      ),
    ).not.toThrow();
    // Order, not list position, decides.
    expect(issuesOf({ ...base, routes: [route('late', 5, { path: '/api/x' }), route('early', 1, { path: '/api/{**rest}' })] }).map((i) => i.path)).toEqual(['routes.0.match']);
  });

  it('interpolates ${ENV} and ${ENV:-default}, typing whole-value numbers, and reports missing variables', () => {
    const config = parseProxyConfig(
      { ...base, admin: { token: '${TOKEN}', port: '${ADMIN_PORT:-9999}' }, clusters: { legacy: { url: 'http://${HOST}:3000' } } },
      { TOKEN: 'secret-token-123', HOST: 'monolith' },
    );
    expect(config.admin).toMatchObject({ token: 'secret-token-123', port: 9999 });
    expect(config.clusters.legacy!.url).toBe('http://monolith:3000');
    expect(issuesOf({ ...base, admin: { token: '${MISSING_TOKEN}' } })).toEqual(
      expect.arrayContaining([{ path: 'admin.token', message: 'environment variable MISSING_TOKEN is not set' }]),
    );
  });

  it('rejects flags and shadows on routes pinned to legacy, and typos in keys', () => {
    const issues = issuesOf({ ...base, routes: [{ id: 'x', order: 1, match: { path: '/x' }, cluster: 'legacy', flag: 'f', shadow: {}, fallbak: 'never' }] });
    expect(issues.map((issue) => issue.path)).toEqual(expect.arrayContaining(['routes.0.flag', 'routes.0.shadow', 'routes.0.fallbak']));
  });

  it('loads YAML and resolves file paths against the config directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-config-'));
    const file = path.join(dir, 'proxy.yaml');
    fs.writeFileSync(file, 'admin: { token: "${T}" }\nclusters:\n  legacy: { url: "http://127.0.0.1:3000" }\nflags: { unleash: { clientToken: c, bootstrapFile: boot.json } }\n');
    const config = loadProxyConfigFile(file, { T: 'token-token-token' });
    expect(config.flags.unleash.backupDir).toBe(path.join(dir, '.strangler/unleash-backup'));
    expect(config.flags.unleash.bootstrapFile).toBe(path.join(dir, 'boot.json'));
    fs.writeFileSync(file, 'admin: [unclosed');
    expect(() => loadProxyConfigFile(file, {})).toThrow(expect.objectContaining({ code: 'SFG_PROXY_CONFIG_UNREADABLE' }));
    fs.rmSync(dir, { recursive: true });
  });
});

describe('path templates', () => {
  it.each([
    ['/api/orders/{**rest}', '/api/orders', true],
    ['/api/orders/{**rest}', '/api/orders/', true],
    ['/api/orders/{**rest}', '/api/orders/7/lines', true],
    ['/api/orders/{**rest}', '/api/ordersX', false],
    ['/api/orders/{id}', '/api/orders/7', true],
    ['/api/orders/{id}', '/api/orders/7/lines', false],
    ['/api/orders/{id}', '/api/orders/', false],
    ['/', '/', true],
    ['/', '/x', false],
    ['/{**all}', '/anything/at/all', true],
    ['/issues/{id}.json', '/issues/7.json', true],
    ['/issues/{id}.json', '/issues/7', false],
    ['/issues/{id}.json', '/issues/.json', false],
    ['/issues/{id}.json', '/issues/7xjson', false],
    ['/issues/{id}.json', '/issues/7.json/x', false],
  ])('%s matches %s: %s', (template, path, expected) => {
    expect(parsePathTemplate(template).regex.test(path)).toBe(expected);
  });

  it.each([
    ['/api/{**rest}', '/api/orders/{id}', true],
    ['/api/orders/{id}', '/api/orders/42', true],
    ['/api/orders/{id}', '/api/orders/{**rest}', false],
    ['/api/orders/42', '/api/orders/{id}', false],
    ['/api/{id}/x', '/api/{id}/y', false],
    ['/api/{**a}', '/api/{**b}', true],
    ['/issues/{id}', '/issues/{id}.json', true],
    ['/issues/{id}.json', '/issues/{id}', false],
    ['/issues/{id}.json', '/issues/7.json', true],
    ['/issues/{id}.json', '/issues/.json', false],
    ['/files/{name}.gz', '/files/{name}.tar.gz', true],
    ['/files/{name}.tar.gz', '/files/{name}.gz', false],
  ])('%s covers %s: %s', (outer, inner, expected) => {
    expect(templateCovers(parsePathTemplate(outer), parsePathTemplate(inner))).toBe(expected);
  });

  it('rejects malformed templates', () => {
    expect(() => parsePathTemplate('/a/{**rest}/b')).toThrow('must be the last segment');
    expect(() => parsePathTemplate('/a//b')).toThrow('invalid segment');
    expect(() => parsePathTemplate('a')).toThrow('must start with /');
    expect(() => parsePathTemplate('/issues/{id}.{format}')).toThrow("invalid segment '{id}.{format}'");
    expect(() => parsePathTemplate('/issues/v{id}')).toThrow("invalid segment 'v{id}'");
  });
});
