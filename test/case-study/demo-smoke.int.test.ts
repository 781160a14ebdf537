import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { portFree, UnleashAdmin } from '../helpers';
import { eventually } from '../helpers';
import { SHOP_ROUTES, SERVICES } from '../../case-study';
import { Client } from 'pg';
import { testEnv } from '../helpers';

const DEFAULT_PORTS = [8080, 8090, 3000, 3101, 3102, 3103, 3104];

/**
 * An offset that moves every demo port onto a free one, so the smoke test runs beside a real `npm start`. The
 * ports stay below the ephemeral range (32768+), where outgoing connections could take one between check and use.
 */
async function freeOffset(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const offset = 10_000 + Math.floor(Math.random() * 14_000);
    if ((await Promise.all(DEFAULT_PORTS.map((port) => portFree(port + offset)))).every(Boolean)) return offset;
  }
  throw new Error('no free port offset');
}

/** True while any process of the group is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `npm start` itself, in a process group of its own, with every port shifted and every name (databases,
 * slots, consumer groups, topics, flags) unique, so it never collides with a running demo. Ctrl-C is simulated
 * as a terminal sends it: SIGINT to the whole group (npm, tsx and the demo each receive it).
 */
describe('npm start (strangler demo) smoke test', () => {
  const name = `sfg_demo_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  let child: ChildProcess | undefined;

  afterAll(async () => {
    if (child?.pid && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
    const admin = new UnleashAdmin();
    const flagPrefix = name.replace(/_/g, '-');
    for (const route of SHOP_ROUTES) {
      for (const suffix of ['', '-shadow']) await admin.deleteFlag(`${flagPrefix}-${route.id}${suffix}`).catch(() => undefined);
    }
    const client = new Client({ connectionString: testEnv().databaseUrl });
    await client.connect();
    try {
      for (const origin of ['legacy', ...SERVICES.map((service) => service.name)]) {
        const database = `${name}_${origin}`;
        await client.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = $1 and not active', [database]);
        await client.query(`drop database if exists "${database}" with (force)`);
      }
    } finally {
      await client.end();
    }
  });

  it('boots, answers GET /api/products through the proxy with 200, and stops cleanly on Ctrl-C', async () => {
    const root = path.resolve(__dirname, '../..');
    let offset = 0;
    let stdout = '';
    let stderr = '';
    let exited!: Promise<string>;
    // A port can still be taken between the check and the listen: then the demo exits at once and we retry.
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      offset = await freeOffset();
      stdout = '';
      stderr = '';
      child = spawn(
        'npm',
        ['start', '--', '--port-offset', String(offset), '--database-prefix', name, '--instance', name, '--flag-prefix', name.replace(/_/g, '-'), '--topic-prefix', `${name}.event.`],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
      );
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const current = child;
      exited = new Promise<string>((resolve) => current.once('exit', (code, signal) => resolve(signal ?? String(code))));
      await eventually(async () => stdout.includes('is running') || current.exitCode !== null, 90_000, 'demo start');
      if (stdout.includes('is running') || !stderr.includes('EADDRINUSE')) break;
    }
    if (!stdout.includes('is running')) throw new Error(`demo exited early (${child!.exitCode}):\n${stderr}`);
    expect(stdout).toContain(`http://127.0.0.1:${8080 + offset}`);
    expect(stdout).toContain('admin / unleash4all');
    const response = await fetch(`http://127.0.0.1:${8080 + offset}/api/products`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as unknown[]).length).toBeGreaterThan(0);

    process.kill(-child!.pid!, 'SIGINT');
    const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref())]);
    // npm itself ends by the SIGINT (exit status 130 in a shell); what matters is that the demo stopped every part
    // in order and nothing is left running.
    expect({ code, stderrTail: code === 'SIGINT' ? '' : stderr.slice(-2000) }).toEqual({ code: 'SIGINT', stderrTail: '' });
    await eventually(async () => !groupAlive(child!.pid!), 10_000, 'every process of the group exited');
    expect(stderr).toContain('SIGINT: stopping');
    // The last lines can still be in the pipe when the processes are gone.
    await eventually(() => /\[demo\] stopped\n/.test(stderr), 10_000, '"[demo] stopped" on stderr');
  });
});
