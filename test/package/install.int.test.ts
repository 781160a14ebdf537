import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import * as cliSource from '../../cli';
import * as outboxSource from '../../outbox';
import * as proxySource from '../../strangler-proxy';
import * as expressSource from '../../strangler-proxy/express';
import * as syncSource from '../../sync';
import * as rolloutSource from '../../rollout';
import { createTestDatabase, eventually, freePort, testEnv, uniqueName, type TestDatabase } from '../helpers';
import { FIXTURE_DIR, fixtureDatabases, type FixtureDatabases } from '../sync/fixture';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const SUBPATHS = { 'strangler-fig/proxy': proxySource, 'strangler-fig/express': expressSource, 'strangler-fig/outbox': outboxSource, 'strangler-fig/sync': syncSource, 'strangler-fig/rollout': rolloutSource, 'strangler-fig/cli': cliSource };

/**
 * What a team installs: `npm pack` of this checkout (prepack builds dist/), installed into an empty project with
 * production dependencies only, then used the way the README says: the CLI through npx and every subpath import.
 */
describe('the packed package, installed with production dependencies only', () => {
  let project: string;
  let files: string[];
  const children: ChildProcess[] = [];

  const bin = () => path.join(project, 'node_modules', '.bin', 'strangler');
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(bin(), args, { cwd: project, env: { ...process.env, ...env }, timeout: 120_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof error.code === 'number' ? error.code : -1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
    );
  const daemon = (args: string[], env: NodeJS.ProcessEnv) => {
    const child = spawn(bin(), args, { cwd: project, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    children.push(child);
    return { child, exited, output: () => output };
  };

  beforeAll(async () => {
    const packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-pack-'));
    const { stdout } = await run('npm', ['pack', '--pack-destination', packDir, '--json', '--silent', '--no-audit', '--no-fund'], { cwd: ROOT, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = packed!.files.map((file) => file.path);
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-adopter-'));
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'adopter', version: '1.0.0', private: true }));
    await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', path.join(packDir, packed!.filename)], { cwd: project, timeout: 300_000 });
  }, 600_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('holds the built JavaScript, declarations and the bin, and no sources, tests, case study or infra', () => {
    expect(files).toEqual(expect.arrayContaining(['bin/strangler.js', 'dist/strangler-proxy/index.js', 'dist/strangler-proxy/index.d.ts', 'dist/outbox/index.d.ts', 'dist/sync/index.d.ts', 'dist/rollout/index.d.ts', 'dist/rollout/console/browser/console.js', 'dist/cli/index.js', 'package.json']));
    const unwanted = files.filter((file) => /^(test|extracted|legacy-monolith|infra|bench|examples)\//.test(file) || (file.endsWith('.ts') && !file.endsWith('.d.ts')));
    expect(unwanted).toEqual([]);
    // Production dependencies only: no TypeScript runner, test framework or case-study server.
    for (const devOnly of ['tsx', 'jest', 'typescript', 'express', 'unleash-server']) expect(fs.existsSync(path.join(project, 'node_modules', devOnly))).toBe(false);
  });

  it('runs `npx strangler --help` and --version', async () => {
    const help = await run('npx', ['--no', '--', 'strangler', '--help'], { cwd: project, timeout: 60_000 });
    expect(help.stdout).toMatch(/Usage: strangler <command>/);
    for (const command of ['proxy', 'relay', 'backfill', 'verify', 'flip', 'routes', 'explain']) expect(help.stdout).toMatch(new RegExp(`^ {2}${command} `, 'm'));
    expect(help.stdout).not.toMatch(/^ {2}demo /m);
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await cli(['--version'])).stdout.trim()).toBe(version);
  });

  it('exports from every subpath what the sources export, and type-checks against the declarations', async () => {
    const script = `const subpaths = ${JSON.stringify(Object.keys(SUBPATHS))};
      console.log(JSON.stringify(Object.fromEntries(subpaths.map((name) => [name, Object.keys(require(name)).sort()]))));`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: project });
    const installed = JSON.parse(stdout) as Record<string, string[]>;
    for (const [name, source] of Object.entries(SUBPATHS)) expect({ name, exports: installed[name] }).toEqual({ name, exports: Object.keys(source).sort() });

    fs.writeFileSync(
      path.join(project, 'adopter.ts'),
      `import { parseProxyConfig, StranglerProxy, type ProxyConfig } from 'strangler-fig/proxy';
       import { append, createRelay, InboxConsumer, type Subscriber, type Publisher } from 'strangler-fig/outbox';
       import { loadMappingFile, MappingApplier, verify, type VerifyReport } from 'strangler-fig/sync';
       import { StranglerMiddleware, type Middleware } from 'strangler-fig/express';
       const config: ProxyConfig = parseProxyConfig({ admin: { token: 'adopter-token' }, flags: { provider: 'file' }, clusters: { legacy: { url: 'http://127.0.0.1:3000' } } });
       const drift: (report: VerifyReport) => number = (report) => report.driftRows;
       const mount = (middleware: StranglerMiddleware): Middleware => middleware.handle;
       export const used = [config, drift, mount, StranglerProxy, append, createRelay, InboxConsumer, loadMappingFile, MappingApplier, verify] as const;
       export type Seams = [Subscriber, Publisher];\n`,
    );
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'ES2022', strict: true, noEmit: true, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')] }, files: ['adopter.ts'] }),
    );
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await expect(run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).then(() => 'type-checks')).resolves.toBe('type-checks');
  });

  it('runs `strangler proxy` in front of an upstream, then stops on SIGTERM', async () => {
    const upstream = http.createServer((request, response) => response.writeHead(200, { 'content-type': 'text/plain' }).end(`legacy answered ${request.url}`));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    try {
      const [port, adminPort] = [await freePort(), await freePort()];
      fs.writeFileSync(path.join(project, 'flags.yaml'), 'flags: {}\n');
      fs.writeFileSync(
        path.join(project, 'proxy.yaml'),
        YAML.stringify({
          proxy: { host: '127.0.0.1', port },
          admin: { host: '127.0.0.1', port: adminPort, token: '${STRANGLER_ADMIN_TOKEN}' },
          flags: { provider: 'file', file: { path: 'flags.yaml' } },
          clusters: { legacy: { url: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` } },
        }),
      );
      const proxy = daemon(['proxy', '--config', 'proxy.yaml', '--log-level', 'warn'], { STRANGLER_ADMIN_TOKEN: 'adopter-admin-token' });
      const answer = await eventually(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/api/anything`).catch(() => undefined);
        return response?.status === 200 ? response.text() : undefined;
      }, 30_000, `the installed proxy answering (output: ${proxy.output()})`);
      expect(answer).toBe('legacy answered /api/anything');
      proxy.child.kill('SIGTERM');
      expect(await proxy.exited).toBe(0);
    } finally {
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  it('runs `strangler relay`, which publishes a row inserted with plain SQL, then drains on SIGTERM', async () => {
    const database: TestDatabase = await createTestDatabase('sfg_pkg_relay');
    try {
      const metricsPort = await freePort();
      const aggregateType = uniqueName('pkg');
      const relay = daemon(['relay', '--mode', 'polling', '--name', uniqueName('pkg_relay'), '--metrics-port', String(metricsPort), '--log-level', 'warn'], {
        DATABASE_URL: database.url,
        KAFKA_BROKERS: testEnv().kafkaBrokers.join(','),
        OUTBOX_TOPIC_PREFIX: 'sfg.pkg.',
      });
      const metrics = () => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((response) => response.text()).catch(() => '');
      await eventually(async () => /strangler_outbox_leader\{[^}]*\} 1/.test(await metrics()), 60_000, `the installed relay leading (output: ${relay.output()})`);
      await database.pool.query(`insert into outbox (id, aggregatetype, aggregateid, type, payload) values (gen_random_uuid(), $1, 'a-1', 'Created', '{"n": 1}')`, [aggregateType]);
      await eventually(async () => new RegExp(`strangler_outbox_published_total\\{[^}]*aggregatetype="${aggregateType}"[^}]*\\} 1`).test(await metrics()), 60_000, 'the row published');
      relay.child.kill('SIGTERM');
      expect(await relay.exited).toBe(0);
    } finally {
      await database.drop();
    }
  });

  it('runs `strangler backfill` and `strangler verify` from a mapping with a translators module', async () => {
    const databases: FixtureDatabases = await fixtureDatabases('sfg_pkg_sync');
    try {
      for (const file of ['mapping.yaml', 'customer-translators.js']) fs.copyFileSync(path.join(FIXTURE_DIR, file), path.join(project, file));
      const sides = ['--mapping', 'mapping.yaml', '--legacy', databases.legacy.url, '--service', databases.service.url];
      const before = await cli(['verify', 'all', ...sides]);
      expect(before.code).toBe(1);
      expect(before.stdout).toMatch(/item \(legacy 30 rows, \S+ 0 rows\): 30 drifting: 30 missing/);
      const backfilled = await cli(['backfill', 'all', ...sides]);
      expect(backfilled).toMatchObject({ code: 0 });
      expect(backfilled.stdout).toMatch(/item -> \S+ \[#+\] 100% 30\/30 copied 30 skipped 0/);
      const after = await cli(['verify', 'all', ...sides]);
      expect(after).toMatchObject({ code: 0 });
      expect(after.stdout.match(/no drift/g)).toHaveLength(3);
    } finally {
      await databases.drop();
    }
  });
});
