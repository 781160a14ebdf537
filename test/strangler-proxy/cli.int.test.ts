import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePort, testEnv, UnleashAdmin, uniqueName } from '../helpers';
import { runCli as run } from '../helpers/cli';
import { ADMIN_TOKEN, request, sideOf, Upstream, waitFor } from './harness';

const ROOT = path.resolve(__dirname, '../..');

/** `strangler proxy` as a real process, driven by `strangler routes|explain|flip` and signals. */
describe('strangler proxy CLI', () => {
  const admin = new UnleashAdmin();
  const flag = uniqueName('sfg-cli-orders').replace(/_/g, '-');
  const legacy = new Upstream('legacy');
  const orders = new Upstream('orders');
  let dir: string;
  let configPath: string;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let proxyUrl: string;
  let adminUrl: string;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    await Promise.all([legacy.start(), orders.start()]);
    await admin.createFlag(flag);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-cli-'));
    configPath = path.join(dir, 'proxy.yaml');
    const [proxyPort, adminPort] = [await freePort(), await freePort()];
    proxyUrl = `http://127.0.0.1:${proxyPort}`;
    adminUrl = `http://127.0.0.1:${adminPort}`;
    const env = testEnv();
    fs.writeFileSync(
      configPath,
      YAML.stringify({
        proxy: { host: '127.0.0.1', port: proxyPort },
        admin: { host: '127.0.0.1', port: adminPort, token: '${STRANGLER_ADMIN_TOKEN}' },
        flags: { unleash: { url: env.unleashUrl, clientToken: env.unleashClientToken, refreshIntervalMs: 500, backupDir: 'backup', sendMetrics: false } },
        reload: { watchFile: false },
        clusters: { legacy: { url: legacy.url }, orders: { url: orders.url } },
        routes: [{ id: 'orders', order: 10, match: { path: '/api/orders/{**rest}' }, cluster: 'orders', flag }],
      }),
    );
    child = spawn(process.execPath, ['--import', 'tsx', 'cli/index.ts', 'proxy', '--config', configPath, '--log-level', 'warn'], {
      cwd: ROOT,
      env: { ...process.env, STRANGLER_ADMIN_TOKEN: ADMIN_TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(() => fetch(`${adminUrl}/readyz`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.status, () => 0), (s) => s === 200, 30_000, 200);
    process.env.STRANGLER_ADMIN_URL = adminUrl;
    process.env.STRANGLER_ADMIN_TOKEN = ADMIN_TOKEN;
  });

  afterAll(async () => {
    process.env = savedEnv;
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    await admin.deleteFlag(flag);
    await Promise.all([legacy.kill(), orders.kill()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('explains, flips with confirmation, and shows the live split', async () => {
    const before = await run(['explain', 'GET', '/api//orders/7', '--user', 'alice']);
    expect(before.code).toBe(0);
    expect(before.out).toContain('normalised path  /api/orders/7');
    expect(before.out).toMatch(/goes to\s+legacy/);

    const flipped = await run(['flip', 'orders', '100']);
    expect(flipped.err).toBe('');
    expect(flipped.code).toBe(0);
    expect(flipped.out).toContain(`${flag}: flexibleRollout 100% confirmed by Unleash`);
    expect(flipped.out).toMatch(/proxy routes 100% of 'orders' to the extracted side/);
    expect(sideOf((await request(`${proxyUrl}/api/orders/1`, { headers: { 'x-user-id': 'alice' } })).body)).toBe('orders');

    const after = await run(['explain', 'GET', '/api/orders/7', '--user', 'alice', '--json']);
    expect(JSON.parse(after.out)).toMatchObject({ route: 'orders', target: 'extracted', reason: 'flag-on' });

    const routes = await run(['routes']);
    expect(routes.code).toBe(0);
    expect(routes.out.split('\n')[0]).toMatch(/^ROUTE\s+ORDER\s+MATCH\s+CLUSTER\s+FLAG\s+ROLLOUT/);
    expect(routes.out).toMatch(new RegExp(`orders\\s+10\\s+\\* /api/orders/\\{\\*\\*rest\\}\\s+orders\\s+${flag}\\s+100%\\s+closed\\s+0/1 = 100% new\\s+0/1 = 100% new`));

    const back = await run(['flip', 'orders', '0']);
    expect(back.code).toBe(0);
    expect(sideOf((await request(`${proxyUrl}/api/orders/2`, { headers: { 'x-user-id': 'alice' } })).body)).toBe('legacy');
  });

  it('reports usage errors and refused tokens clearly', async () => {
    expect(await run(['flip', 'orders', '150'])).toMatchObject({ code: 2, err: expect.stringContaining('<percent> must be an integer from 0 to 100') });
    expect(await run(['flip', 'nope', '10'])).toMatchObject({ code: 2, err: expect.stringContaining("no route 'nope' (known: orders)") });
    expect(await run(['explain', 'GET'])).toMatchObject({ code: 2, err: expect.stringContaining('expected <method> <path>') });
    expect(await run(['routes', '--token', 'wrong-token'])).toMatchObject({ code: 1, err: expect.stringContaining('SFG_PROXY_ADMIN_UNAUTHORISED') });
    expect((await run(['flip', '--help'])).out).toContain('Usage: strangler flip <route> <percent>');
    expect(await run(['proxy', '--config', path.join(dir, 'missing.yaml')])).toMatchObject({ code: 2, err: expect.stringContaining('cannot read proxy configuration') });
  });

  it('reloads on SIGHUP and stops gracefully on SIGTERM', async () => {
    const config = YAML.parse(fs.readFileSync(configPath, 'utf8'));
    config.routes.push({ id: 'moved', order: 20, match: { path: '/api/moved/{**rest}' }, cluster: 'orders' });
    fs.writeFileSync(configPath, YAML.stringify(config));
    child.kill('SIGHUP');
    const moved = await waitFor(() => request(`${proxyUrl}/api/moved/1`), (r) => sideOf(r.body) === 'orders', 10_000);
    expect(sideOf(moved.body)).toBe('orders');

    const slow = request(`${proxyUrl}/slow/500`);
    await waitFor(() => legacy.count('GET', '/slow/500'), (n) => n === 1, 5_000, 20);
    child.kill('SIGTERM');
    expect((await slow).status).toBe(200); // the request in flight finished
    expect(await exited).toBe(0);
  });
});
