import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { UnleashAdmin } from '../helpers';
import { eventually } from './stack-fixture';
import { SHOP_ROUTES, SERVICES } from '../../extracted/stack';
import { Client } from 'pg';
import { testEnv } from '../helpers';

const DEFAULT_PORTS = [8080, 8090, 3000, 3101, 3102, 3103, 3104];

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** An offset that moves every demo port onto a free one, so the smoke test runs beside a real `npm start`. */
async function freeOffset(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const offset = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await Promise.all(DEFAULT_PORTS.map((port) => portFree(port + offset)))).every(Boolean)) return offset;
  }
  throw new Error('no free port offset');
}

/**
 * `npm start` runs `tsx cli/index.ts demo`; this runs the same entry point with every port shifted and every
 * name (databases, slots, consumer groups, topics, flags) unique, so it never collides with a running demo.
 */
describe('npm start (strangler demo) smoke test', () => {
  const name = `sfg_demo_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  let child: ChildProcess | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    const admin = new UnleashAdmin();
    const flagPrefix = name.replace(/_/g, '-');
    for (const route of SHOP_ROUTES) {
      for (const suffix of ['', '-shadow']) await admin.archiveFlag(`${flagPrefix}-${route.id}${suffix}`).catch(() => undefined);
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

  it('boots, answers GET /api/products through the proxy with 200, and exits 0 on SIGINT', async () => {
    const offset = await freeOffset();
    const root = path.resolve(__dirname, '../..');
    child = spawn(
      process.execPath,
      [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'cli/index.ts', 'demo', '--port-offset', String(offset), '--database-prefix', name, '--instance', name, '--flag-prefix', name.replace(/_/g, '-'), '--topic-prefix', `${name}.event.`],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

    await eventually(async () => stdout.includes('is running') || child!.exitCode !== null, 90_000, 'demo start');
    if (!stdout.includes('is running')) throw new Error(`demo exited early (${child.exitCode}):\n${stderr}`);
    expect(stdout).toContain(`http://127.0.0.1:${8080 + offset}`);
    expect(stdout).toContain('admin / unleash4all');
    const response = await fetch(`http://127.0.0.1:${8080 + offset}/api/products`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as unknown[]).length).toBeGreaterThan(0);

    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref())]);
    expect({ code, stderrTail: code === 0 ? '' : stderr.slice(-2000) }).toEqual({ code: 0, stderrTail: '' });
    expect(stderr).toContain('stopped');
  });
});
