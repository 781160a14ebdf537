import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePort, testEnv, UnleashAdmin, uniqueName } from '../helpers';
import { runCli as run } from '../helpers/cli';
import { ADMIN_TOKEN, request, sideOf, Upstream, waitFor } from './harness';

const ROOT = path.resolve(__dirname, '../..');

interface Replica {
  proxyUrl: string;
  adminUrl: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Three `strangler proxy` processes on one config file (ports from the environment), driven by `strangler routes|flip|status`. */
describe('strangler routes, flip and status across 3 proxy replicas', () => {
  const unleash = new UnleashAdmin();
  const flag = uniqueName('sfg-replicas-orders').replace(/_/g, '-');
  const legacy = new Upstream('legacy');
  const orders = new Upstream('orders');
  const replicas: Replica[] = [];
  let dir: string;
  let configPath: string;
  let config: Record<string, unknown> & { routes: unknown[] };
  let admins: string[];
  const savedEnv = { ...process.env };

  async function spawnReplica(): Promise<Replica> {
    const [proxyPort, adminPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/index.ts', 'proxy', '--config', configPath, '--log-level', 'warn'], {
      cwd: ROOT,
      env: { ...process.env, STRANGLER_ADMIN_TOKEN: ADMIN_TOKEN, PROXY_PORT: String(proxyPort), ADMIN_PORT: String(adminPort) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    const ready = () => fetch(`${adminUrl}/readyz`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.status, () => 0);
    await waitFor(ready, (status) => status === 200, 30_000, 200);
    return { proxyUrl: `http://127.0.0.1:${proxyPort}`, adminUrl, child, exited };
  }

  beforeAll(async () => {
    await Promise.all([legacy.start(), orders.start()]);
    await unleash.createFlag(flag);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-replicas-'));
    configPath = path.join(dir, 'proxy.yaml');
    const env = testEnv();
    config = {
      proxy: { host: '127.0.0.1', port: '${PROXY_PORT}' },
      admin: { host: '127.0.0.1', port: '${ADMIN_PORT}', token: '${STRANGLER_ADMIN_TOKEN}' },
      flags: { unleash: { url: env.unleashUrl, clientToken: env.unleashClientToken, refreshIntervalMs: 500, backupDir: 'backup', sendMetrics: false } },
      reload: { watchFile: false },
      clusters: { legacy: { url: legacy.url }, orders: { url: orders.url } },
      routes: [{ id: 'orders', order: 10, match: { path: '/api/orders/{**rest}' }, cluster: 'orders', flag }],
    };
    fs.writeFileSync(configPath, YAML.stringify(config));
    replicas.push(...(await Promise.all([spawnReplica(), spawnReplica(), spawnReplica()])));
    admins = replicas.map((replica) => replica.adminUrl);
    process.env.STRANGLER_ADMIN_TOKEN = ADMIN_TOKEN;
    delete process.env.STRANGLER_ADMIN_URL;
  }, 60_000);

  afterAll(async () => {
    process.env = savedEnv;
    for (const replica of replicas) if (replica.child.exitCode === null) replica.child.kill('SIGKILL');
    await Promise.all(replicas.map((replica) => replica.exited));
    await unleash.deleteFlag(flag);
    await Promise.all([legacy.kill(), orders.kill()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows each replica and sums their splits', async () => {
    for (const [index, replica] of replicas.entries()) {
      for (let n = 0; n <= index; n++) expect((await request(`${replica.proxyUrl}/api/orders/${n}`, { headers: { 'x-user-id': `user-${n}` } })).status).toBe(200);
    }
    const routes = await run(['routes', '--admin', admins[0]!, '--admin', `${admins[1]},${admins[2]}`]);
    expect(routes.err).toBe('');
    expect(routes.code).toBe(0);
    const lines = routes.out.split('\n');
    expect(lines[0]).toMatch(/^REPLICA\s+FLAGS\s+CONFIG\s+LOADED\s+LAST RELOAD$/);
    const digests = admins.map((url) => new RegExp(`^${url}\\s+ready\\s+([0-9a-f]{12})\\s+\\d\\d:\\d\\d:\\d\\d\\s+none$`, 'm').exec(routes.out)?.[1]);
    expect(digests.every((digest) => digest && digest === digests[0])).toBe(true);
    // 1 + 2 + 3 requests, all to legacy while the flag is off.
    expect(routes.out).toMatch(new RegExp(`orders\\s+10\\s+\\* /api/orders/\\{\\*\\*rest\\}\\s+orders\\s+${flag}\\s+0%\\s+closed\\s+6/0 = 0% new\\s+6/0 = 0% new`));

    const json = JSON.parse((await run(['routes', '--admin', admins.join(','), '--json'])).out);
    expect(json.routes[0].split).toMatchObject({ legacy: 6, extracted: 0 });
    expect(json.replicas).toHaveLength(3);
    expect(json.replicas.map((replica: { rollouts: Record<string, number> }) => replica.rollouts.orders)).toEqual([0, 0, 0]);
  });

  it('flips and waits for every replica to pick the rollout up', async () => {
    const flipped = await run(['flip', 'orders', '100', '--admin', admins.join(',')]);
    expect(flipped.err).toBe('');
    expect(flipped.code).toBe(0);
    for (const url of admins) expect(flipped.out).toMatch(new RegExp(`${url} picked it up in \\d+ ms`));
    expect(flipped.out).toMatch(/all 3 proxy replicas route 100% of 'orders' to the extracted side/);
    for (const replica of replicas) expect(sideOf((await request(`${replica.proxyUrl}/api/orders/1`, { headers: { 'x-user-id': 'alice' } })).body)).toBe('orders');
  });

  it('shows a replica whose reload failed, or that runs another configuration, and exits 1', async () => {
    config.routes.push({ id: 'moved', order: 20, match: { path: '/api/moved/{**rest}' }, cluster: 'orders' });
    fs.writeFileSync(configPath, YAML.stringify(config));
    replicas[0]!.child.kill('SIGHUP');
    await waitFor(() => request(`${replicas[0]!.proxyUrl}/api/moved/1`), (r) => sideOf(r.body) === 'orders', 10_000);
    fs.writeFileSync(configPath, 'routes: [unclosed');
    replicas[1]!.child.kill('SIGHUP');
    const failedReload = (out: string) => new RegExp(`^${admins[1]}\\s+ready\\s+[0-9a-f]{12}\\s+\\S+\\s+FAILED \\d\\d:\\d\\d:\\d\\d: `, 'm').test(out);
    const routes = await waitFor(() => run(['routes', '--admin', admins.join(',')]), (result) => failedReload(result.out), 10_000, 200);
    expect(routes.code).toBe(1);
    expect(routes.out).toMatch(new RegExp(`^${admins[0]}\\s+ready\\s+[0-9a-f]{12}\\s+\\S+\\s+ok \\d\\d:\\d\\d:\\d\\d$`, 'm'));
    expect(routes.out).toMatch(/replicas run 2 different configurations \([0-9a-f]{12}, [0-9a-f]{12}\): reload the ones behind/);
    // Only the reloaded replica has the new route.
    expect(routes.out).toMatch(/^moved\s+20\s+.*\s+100% on 1, absent on 2\s/m);

    const status = await run(['status', '--admin', admins.join(','), '--prometheus', 'http://127.0.0.1:1']);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/^REPLICA\s+FLAGS\s+CONFIG/m);
    expect(failedReload(status.out)).toBe(true);
  });

  it('refuses to flip while a replica is unreachable, and changes nothing', async () => {
    replicas[2]!.child.kill('SIGKILL');
    await replicas[2]!.exited;
    const routes = await run(['routes', '--admin', admins.join(',')]);
    expect(routes.code).toBe(1);
    expect(routes.out).toMatch(new RegExp(`^${admins[2]}\\s+UNREACHABLE\\s+-\\s+-\\s+cannot reach the proxy admin API`, 'm'));

    const flip = await run(['flip', 'orders', '0', '--admin', admins.join(',')]);
    expect(flip.code).toBe(1);
    expect(flip.err).toContain(`replica ${admins[2]} cannot be reached`);
    expect(flip.err).toContain('nothing changed: every replica must be reachable to confirm the flip (1 of 3 are not)');
    const left = JSON.parse((await run(['routes', '--admin', `${admins[0]},${admins[1]}`, '--json'])).out);
    expect(left.replicas.map((replica: { rollouts: Record<string, number> }) => replica.rollouts.orders)).toEqual([100, 100]);
  });
});
