/**
 * `npm run bench:proxy`: req/s and latency of a tiny upstream directly, through strangler-proxy (a flag evaluated
 * and metrics recorded on every request), through express 5 + http-proxy-middleware (the engine the issue names as
 * default, for comparison), through express 5 + StranglerMiddleware (the express integration: the same route, flag and
 * metrics, forwarded by http-proxy-middleware) and through nginx (one worker, keep-alive upstream) when an nginx binary is installed.
 * Every server runs in its own process; autocannon (50 connections) runs here. Each target is measured
 * BENCH_ROUNDS times (default 3) for BENCH_DURATION_S seconds (default 10), rounds interleaved, medians reported.
 * Bare forwarders show the ceilings: `node-floor` (http.request + Agent as upstream client) and `undici-floor`
 * (undici Pool + dispatch, strangler-proxy's upstream client); `tcp-floor` splices each client connection to an
 * upstream connection with no HTTP parsing at all, the least a node process can spend per request.
 * Then added p99: the upstream directly vs through strangler-proxy, with steady (paced) load at half of nginx's max
 * rate (half of the proxy's when nginx is absent), or at BENCH_PACED_RPS.
 * The strangler-proxy target has a 4-route table (three routes that do not match before the one that does);
 * `--routes <n>` adds a target whose table has n routes, the matching one last, and reports the req/s ratio of the two.
 * `--workers <n>` adds strangler-proxy in worker mode (n node:cluster workers behind one primary) and reports its
 * req/s and CPU per request against the single process's.
 * Prints a table, then one JSON line last. `--help` lists the options.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pino from 'pino';
import { Registry } from 'prom-client';
import YAML from 'yaml';
import { resolveEnvironment } from '../infra';
import { StranglerMiddleware } from '../strangler-proxy/express';
import { createFlagProvider, parseProxyConfig, ProxyWorkers, runProxyWorker, StranglerProxy, UnleashAdminClient } from '../strangler-proxy';

const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FLAG = 'strangler-bench-proxy';
// Requests cycle through 200 users, so the 50% rollout sends about half to each side (prebuilt: no per-request work in autocannon).
const USER_REQUESTS = Array.from({ length: 200 }, (_, user) => ({ method: 'GET' as const, path: `/api/items/${user}`, headers: { 'x-user-id': `user-${user}` } }));
const BODY = JSON.stringify({ id: 42, name: 'widget', price: 9.99, tags: ['a', 'b'] });

const BASE_ROUTES = 4;

const USAGE = `Usage: npm run bench:proxy -- [options]

Options:
  --routes <n>       also measure strangler-proxy with an n-route table (the matching route last) and report
                     route_table_ratio, its req/s over the ${BASE_ROUTES}-route table's (n >= ${BASE_ROUTES})
  --workers <n>      also measure strangler-proxy in worker mode with n workers (n >= 2) and report
                     worker_scaling: req/s and CPU µs per request for 1 and n workers, and their ratio
  --targets <list>   comma-separated subset of targets to measure (default: all); strangler-proxy is always kept
  -h, --help         show this help

Environment: BENCH_ROUNDS (default 3), BENCH_DURATION_S (default 10), BENCH_FLAGS (unleash | file; default unleash
when the server answers), BENCH_PACED_RPS (the paced-load rate for the p99 figures, instead of half of nginx's and
half of the proxy's max; one fixed rate compares two builds).`;

/**
 * A table of `count` routes whose last one matches the benchmark's requests (GET /api/items/{user}); the others
 * fail on a literal segment, on the path's length or on a header, so a scan in match order would test every one.
 */
function benchRoutes(count: number): Array<Record<string, unknown>> {
  const routes: Array<Record<string, unknown>> = [];
  for (let index = 0; index < count - 1; index++) {
    const match =
      index % 3 === 0 ? { path: `/api/items/{id}/r${index}` } : index % 3 === 1 ? { path: `/api/r${index}/{**rest}` } : { path: '/api/items/{id}', headers: { 'x-tenant': `t${index}` } };
    routes.push({ id: `r${index}`, order: index + 1, match, cluster: 'legacy' });
  }
  routes.push({ id: 'bench', order: count, match: { path: '/api/{**rest}' }, cluster: 'extracted', flag: FLAG });
  return routes;
}

type Role = 'upstream' | 'strangler' | 'strangler-workers' | 'express-strangler' | 'hpm' | 'node-floor' | 'undici-floor' | 'tcp-floor' | 'paced';

function listenAndAnnounce(server: http.Server | net.Server): void {
  if (server instanceof http.Server) server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => console.log(`READY ${(server.address() as AddressInfo).port}`));
  process.on('SIGTERM', () => process.exit(0));
}

/**
 * Open-loop load at a steady `rate` (autocannon's rate limit sends each second's quota in a burst, which measures
 * the burst, not the proxy). Latency counts from when a request was due, so queueing is not hidden.
 */
async function pacedLoad(port: number, rate: number, durationS: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const latencies: number[] = [];
  const warmupMs = 1_000;
  let sent = 0;
  let pending = 0;
  let errors = 0;
  const started = performance.now();
  const fire = (index: number) => {
    const dueAt = started + (index / rate) * 1_000;
    const user = USER_REQUESTS[index % USER_REQUESTS.length]!;
    pending += 1;
    http
      .get({ agent, hostname: '127.0.0.1', port, path: user.path, headers: user.headers }, (response) => {
        response.resume();
        response.on('end', () => {
          pending -= 1;
          if (dueAt - started >= warmupMs) latencies.push(performance.now() - dueAt);
        });
      })
      .on('error', () => {
        pending -= 1;
        errors += 1;
      });
  };
  await new Promise<void>((resolve) => {
    const ticker = setInterval(() => {
      const elapsedMs = performance.now() - started;
      if (elapsedMs >= durationS * 1_000) {
        if (pending === 0) {
          clearInterval(ticker);
          resolve();
        }
        return;
      }
      const due = Math.floor((elapsedMs / 1_000) * rate);
      while (sent < due) fire(sent++);
    }, 1);
  });
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(2));
  console.log(`RESULT ${JSON.stringify({ p50: at(0.5), p99: at(0.99), requests: latencies.length, errors })}`);
}

/** Streams one undici response into the client response (legacy handler API: raw headers, no parsing). */
class UndiciFloorHandler {
  constructor(private readonly res: http.ServerResponse) {}
  onConnect(): void {}
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    const headers: string[] = [];
    for (let index = 0; index < rawHeaders.length; index += 2) {
      const name = rawHeaders[index]!.toString('latin1');
      if (name.length !== 10 || name.toLowerCase() !== 'connection') headers.push(name, rawHeaders[index + 1]!.toString('latin1'));
    }
    this.res.writeHead(statusCode, headers);
    this.res.on('drain', resume);
    return true;
  }
  onData(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }
  onComplete(): void {
    this.res.end();
  }
  onError(error: Error): void {
    this.res.destroy(error);
  }
}

/** Child process bodies. */
async function runRole(role: Role, upstreamPort: number, flagsMode: string, routeCount: number, workerCount: number): Promise<void> {
  if (cluster.isWorker) {
    // A worker of the strangler-workers role: its primary hands it the config.
    const logger = pino({ level: 'silent' });
    return runProxyWorker({ logger, registry: new Registry(), createFlags: (flags) => createFlagProvider(flags, { logger }) });
  }
  if (role === 'upstream') {
    listenAndAnnounce(
      http.createServer((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
        res.end(BODY);
      }),
    );
    return;
  }
  if (role === 'node-floor') {
    // The least any node:http forwarder does (no routing, flags, metrics or header hygiene): the ceiling for node.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, scheduling: 'lifo' });
    listenAndAnnounce(
      http.createServer((req, res) => {
        const upstream = http.request({ agent, hostname: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (response) => {
          res.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(res);
        });
        req.pipe(upstream);
      }),
    );
    return;
  }
  if (role === 'undici-floor') {
    // The same bare forwarder with undici's Pool as the upstream client instead of http.request + Agent.
    const { Pool } = await import('undici');
    const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 256 });
    listenAndAnnounce(
      http.createServer((req, res) => {
        const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
        pool.dispatch({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.rawHeaders, body: hasBody ? req : null }, new UndiciFloorHandler(res));
      }),
    );
    return;
  }
  if (role === 'tcp-floor') {
    // No HTTP at all: each client connection spliced to its own upstream connection. What a node process spends
    // just moving the bytes (two reads and two writes per request), below any HTTP proxy written for node.
    listenAndAnnounce(
      net.createServer((client) => {
        const upstream = net.connect(upstreamPort, '127.0.0.1');
        client.setNoDelay(true);
        upstream.setNoDelay(true);
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      }),
    );
    return;
  }
  if (role === 'hpm') {
    const express = (await import('express')).default;
    const { createProxyMiddleware } = await import('http-proxy-middleware');
    const app = express();
    app.use(createProxyMiddleware({ target: `http://127.0.0.1:${upstreamPort}`, changeOrigin: true, agent: new http.Agent({ keepAlive: true, maxSockets: 256 }) }));
    listenAndAnnounce(http.createServer(app));
    return;
  }
  const logger = pino({ level: 'silent' });
  const env = resolveEnvironment();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-bench-'));
  let flagsSection: Record<string, unknown>;
  if (flagsMode === 'unleash') {
    flagsSection = { provider: 'unleash', unleash: { url: env.unleashUrl, clientToken: env.unleashClientToken, appName: 'strangler-bench', refreshIntervalMs: 5_000, backupDir: dir, sendMetrics: false } };
  } else {
    const file = path.join(dir, 'flags.yaml');
    fs.writeFileSync(file, YAML.stringify({ flags: { [FLAG]: { enabled: true, rollout: 50 } } }));
    flagsSection = { provider: 'file', file: { path: file, pollIntervalMs: 60_000 } };
  }
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const config = parseProxyConfig({
    proxy: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, token: 'bench-admin-token' },
    flags: flagsSection,
    // Both sides are the same tiny server: the flag is evaluated per request and both label sets are used.
    clusters: { legacy: { url: upstream }, extracted: { url: upstream } },
    routes: benchRoutes(routeCount),
  });
  const flags = createFlagProvider(config.flags, { logger });
  const flagsReady = async () => {
    const deadline = Date.now() + 15_000;
    while (!flags.isReady() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    if (!flags.isReady()) throw new Error('flags not ready');
  };
  if (role === 'express-strangler') {
    // The same route, flag and metrics inside an express 5 app: StranglerMiddleware forwarding through http-proxy-middleware.
    const express = (await import('express')).default;
    const middleware = new StranglerMiddleware({ config, admin: false }, { logger, registry: new Registry(), flags });
    await middleware.start();
    await flagsReady();
    const app = express();
    app.use(middleware.handle);
    listenAndAnnounce(http.createServer(app));
    return;
  }
  if (role === 'strangler-workers') {
    const workers = new ProxyWorkers({ config, count: workerCount }, { logger, registry: new Registry() });
    await workers.start();
    const deadline = Date.now() + 15_000;
    while ((await workers.answerAdmin({ method: 'GET', path: '/readyz', query: '' })).status !== 200 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    console.log(`READY ${new URL(workers.address.proxy).port}`);
    process.on('SIGTERM', () => void workers.stop().then(() => process.exit(0)));
    return;
  }
  const proxy = new StranglerProxy({ config }, { logger, registry: new Registry(), flags });
  await proxy.start();
  await flagsReady();
  console.log(`READY ${new URL(proxy.address.proxy).port}`);
  process.on('SIGTERM', () => void proxy.stop().then(() => process.exit(0)));
}

interface Server {
  port: number;
  /** Processes whose CPU time is charged to this target (nginx: master and workers). */
  pids(): number[];
  stop(): void;
}

/**
 * CPU time (user + system, ms) the processes have used, from /proc (Linux; undefined elsewhere). CPU per request
 * is far steadier than req/s on a shared machine, and shows where the time goes.
 */
function cpuMs(pids: number[]): number | undefined {
  try {
    let ticks = 0;
    for (const pid of pids) {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    }
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

function childPids(pid: number): number[] {
  const found = spawnSync('pgrep', ['-P', String(pid)]).stdout?.toString().trim();
  return found ? found.split('\n').map(Number) : [];
}

/** `withChildren`: the child's own children are charged to it too (nginx's workers, the proxy's in worker mode). */
function startChild(command: string, args: string[], readyPattern: RegExp | undefined, fixedPort?: number, withChildren = false): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const stop = () => child.kill('SIGTERM');
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = readyPattern?.exec(output);
      if (ready) resolve({ port: Number(ready[1]), pids: () => [child.pid!, ...(withChildren ? childPids(child.pid!) : [])], stop });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}: ${output}`)));
    if (!readyPattern) {
      // nginx prints nothing when it is up: poll its port.
      const poll = () =>
        http
          .get(`http://127.0.0.1:${fixedPort}/api/ping`, (res) => {
            res.resume();
            resolve({ port: fixedPort!, pids: () => [child.pid!, ...childPids(child.pid!)], stop });
          })
          .on('error', () => setTimeout(poll, 100));
      poll();
    }
  });
}

function paced(port: number, rate: number): Promise<{ p50: number; p99: number; requests: number; errors: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', __filename, '--role', 'paced', String(port), String(rate)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      const result = /RESULT (.*)/.exec(output);
      if (result) resolve(JSON.parse(result[1]!));
      else reject(new Error(`paced load exited with ${code}: ${output}`));
    });
  });
}

const startRole = (role: Role, upstreamPort: number, flagsMode: string, routeCount = BASE_ROUTES, workerCount = 1) =>
  startChild(
    process.execPath,
    ['--import', 'tsx', __filename, '--role', role, String(upstreamPort), flagsMode, String(routeCount), String(workerCount)],
    /READY (\d+)/,
    undefined,
    role === 'strangler-workers',
  );

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = http.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function startNginx(upstreamPort: number): Promise<Server | undefined> {
  const binary = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx'].find((candidate) => fs.existsSync(candidate)) ??
    (spawnSync('which', ['nginx']).stdout?.toString().trim() || undefined);
  if (!binary) {
    // Installing Debian's nginx would also enable a system web server on :80, so the bench does not do it itself.
    process.stderr.write('nginx: not installed; the nginx comparison is skipped (apt-get install nginx to include it)\n');
    return undefined;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-nginx-'));
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  );
  return startChild(binary, ['-c', path.join(dir, 'nginx.conf'), '-p', dir], undefined, port);
}

interface Sample {
  rps: number;
  p99: number;
  p50: number;
  errors: number;
  cpuUsPerRequest: number | undefined;
}

async function measure(server: Server): Promise<Sample> {
  const pids = server.pids();
  const cpuBefore = cpuMs(pids);
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}/api/items/42`,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: USER_REQUESTS,
  });
  const cpuAfter = cpuMs(pids);
  const cpuUsPerRequest = pids.length === 0 || cpuBefore === undefined || cpuAfter === undefined ? undefined : Number((((cpuAfter - cpuBefore) * 1000) / result.requests.total).toFixed(1));
  return { rps: result.requests.average, p99: result.latency.p99, p50: result.latency.p50, errors: result.errors + result.non2xx + result.timeouts, cpuUsPerRequest };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function unleashAvailable(): Promise<boolean> {
  const env = resolveEnvironment();
  try {
    const client = new UnleashAdminClient({ url: env.unleashUrl, adminToken: env.unleashAdminToken, project: 'default', environment: 'development' });
    const created = await fetch(`${env.unleashUrl.replace(/\/+$/, '')}/admin/projects/default/features`, {
      method: 'POST',
      headers: { authorization: env.unleashAdminToken, 'content-type': 'application/json' },
      body: JSON.stringify({ name: FLAG, type: 'release', description: 'strangler-fig proxy benchmark' }),
    });
    if (!created.ok && created.status !== 409) return false;
    await client.setRollout(FLAG, 50);
    return true;
  } catch {
    return false;
  }
}

class UsageError extends Error {}

interface BenchOptions {
  routes: number | undefined;
  workers: number | undefined;
  targets: Set<string> | undefined;
  /** BENCH_PACED_RPS: one paced rate for both p99 figures. */
  pacedRps: number | undefined;
}

const TARGET_NAMES = ['direct', 'strangler-proxy', 'node-floor', 'undici-floor', 'tcp-floor', 'express+hpm', 'express+StranglerMiddleware', 'nginx'];

/** The command line, every problem at once; undefined after --help. */
function parseOptions(argv: string[]): BenchOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: { routes: { type: 'string' }, workers: { type: 'string' }, targets: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const problems: string[] = [];
  const routes = values.routes === undefined ? undefined : Number(values.routes);
  if (routes !== undefined && (!Number.isInteger(routes) || routes < BASE_ROUTES || routes > 100_000)) problems.push(`--routes must be an integer from ${BASE_ROUTES} to 100000, got '${values.routes}'`);
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 2 || workers > 64)) problems.push(`--workers must be an integer from 2 to 64, got '${values.workers}'`);
  const targets = values.targets === undefined ? undefined : new Set(values.targets.split(',').map((name) => name.trim()));
  for (const name of targets ?? []) if (!TARGET_NAMES.includes(name)) problems.push(`--targets: unknown target '${name}' (known: ${TARGET_NAMES.join(', ')})`);
  const pacedText = process.env.BENCH_PACED_RPS;
  const pacedRps = pacedText === undefined || pacedText === '' ? undefined : Number(pacedText);
  if (pacedRps !== undefined && (!Number.isInteger(pacedRps) || pacedRps < 1 || pacedRps > 1_000_000)) problems.push(`BENCH_PACED_RPS must be an integer from 1 to 1000000, got '${pacedText}'`);
  if (problems.length) throw new UsageError(`${problems.join('\n')}\n\n${USAGE}`);
  targets?.add('strangler-proxy');
  return { routes, workers, targets, pacedRps };
}

async function main(options: BenchOptions): Promise<void> {
  const flagsMode = process.env.BENCH_FLAGS ?? ((await unleashAvailable()) ? 'unleash' : 'file');
  const upstream = await startRole('upstream', 0, flagsMode);
  const wanted = (name: string) => !options.targets || options.targets.has(name);
  const largeTable = options.routes === undefined ? undefined : `strangler-proxy@${options.routes}routes`;
  const targets: Array<{ name: string; server: Server | undefined }> = [];
  const add = async (name: string, start: () => Promise<Server | undefined>) => {
    if (wanted(name)) targets.push({ name, server: await start() });
  };
  await add('direct', async () => ({ port: upstream.port, pids: () => [], stop: () => undefined }));
  await add('strangler-proxy', () => startRole('strangler', upstream.port, flagsMode));
  if (largeTable) targets.push({ name: largeTable, server: await startRole('strangler', upstream.port, flagsMode, options.routes) });
  const workerMode = options.workers === undefined ? undefined : `strangler-proxy@${options.workers}workers`;
  if (workerMode) targets.push({ name: workerMode, server: await startRole('strangler-workers', upstream.port, flagsMode, BASE_ROUTES, options.workers) });
  await add('node-floor', () => startRole('node-floor', upstream.port, flagsMode));
  await add('undici-floor', () => startRole('undici-floor', upstream.port, flagsMode));
  await add('tcp-floor', () => startRole('tcp-floor', upstream.port, flagsMode));
  await add('express+hpm', () => startRole('hpm', upstream.port, flagsMode));
  await add('express+StranglerMiddleware', () => startRole('express-strangler', upstream.port, flagsMode));
  await add('nginx', () => startNginx(upstream.port));
  const proxyTarget = targets.find((target) => target.name === 'strangler-proxy')!;
  const results = new Map<string, Sample[]>();
  try {
    for (const target of targets) if (target.server) await autocannon({ url: `http://127.0.0.1:${target.server.port}/api/warmup`, connections: CONNECTIONS, duration: 2 });
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of targets) {
        if (!target.server) continue;
        const sample = await measure(target.server);
        results.set(target.name, [...(results.get(target.name) ?? []), sample]);
        process.stderr.write(`round ${round} ${target.name}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99} ms, ${sample.cpuUsPerRequest ?? '?'} µs CPU/request\n`);
      }
    }
    const maxRps = (name: string) => (results.has(name) ? median(results.get(name)!.map((sample) => sample.rps)) : undefined);
    const rounded = (name: string) => (results.has(name) ? Math.round(maxRps(name)!) : 'skipped');
    const nginxRps = maxRps('nginx');
    const proxyRps = maxRps('strangler-proxy')!;
    // The required figure is at half of nginx's max rate; half of the proxy's own max shows the unsaturated cost.
    const pacedRps = options.pacedRps;
    const rates = { halfNginx: pacedRps ?? Math.round((nginxRps ?? proxyRps) / 2), halfProxy: pacedRps ?? Math.round(proxyRps / 2) };
    const added: Record<keyof typeof rates, { direct: number[]; proxy: number[] }> = { halfNginx: { direct: [], proxy: [] }, halfProxy: { direct: [], proxy: [] } };
    for (const key of Object.keys(rates) as Array<keyof typeof rates>) {
      for (let round = 1; round <= ROUNDS; round++) {
        const direct = await paced(upstream.port, rates[key]);
        const proxied = await paced(proxyTarget.server!.port, rates[key]);
        added[key].direct.push(direct.p99);
        added[key].proxy.push(proxied.p99);
        process.stderr.write(`round ${round} at ${rates[key]} req/s (paced): p99 direct ${direct.p99} ms, proxy ${proxied.p99} ms (p50 ${direct.p50} / ${proxied.p50} ms)\n`);
      }
    }
    const p99Added = (key: keyof typeof rates) => Number((median(added[key].proxy) - median(added[key].direct)).toFixed(2));

    const cpuPerRequest = (name: string) => {
      const values = (results.get(name) ?? []).map((sample) => sample.cpuUsPerRequest).filter((value): value is number => value !== undefined);
      return values.length ? Number(median(values).toFixed(1)) : undefined;
    };
    // Measured back to back in each round, the two tables see the same machine; the median of the per-round ratios
    // is steadier than the ratio of medians on a shared machine.
    const perRoundRatio = (name: string, value: (sample: Sample) => number | undefined) => {
      const base = results.get('strangler-proxy') ?? [];
      const ratios = (results.get(name) ?? []).map((sample, round) => [value(sample), value(base[round]!)] as const).filter(([a, b]) => a !== undefined && b !== undefined).map(([a, b]) => a! / b!);
      return ratios.length ? Number(median(ratios).toFixed(3)) : null;
    };
    const rows = [['target', 'req/s (median)', 'p50 ms', 'p99 ms', 'errors', 'vs nginx', 'CPU µs/req']];
    for (const target of targets) {
      const samples = results.get(target.name);
      if (!samples) {
        rows.push([target.name, 'skipped (no nginx binary)', '-', '-', '-', '-', '-']);
        continue;
      }
      const rps = median(samples.map((sample) => sample.rps));
      rows.push([
        target.name,
        String(Math.round(rps)),
        String(median(samples.map((sample) => sample.p50))),
        String(median(samples.map((sample) => sample.p99))),
        String(samples.reduce((sum, sample) => sum + sample.errors, 0)),
        nginxRps ? `${(rps / nginxRps).toFixed(2)}x` : '-',
        String(cpuPerRequest(target.name) ?? '-'),
      ]);
    }
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    console.log(rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')).join('\n'));
    for (const key of Object.keys(rates) as Array<keyof typeof rates>) {
      const label = key === 'halfNginx' ? (nginxRps ? "half of nginx's max" : "half of the proxy's max (no nginx)") : "half of the proxy's max";
      console.log(`p99 at ${rates[key]} req/s (${label}), steady load: direct ${median(added[key].direct)} ms, strangler-proxy ${median(added[key].proxy)} ms, added ${p99Added(key)} ms`);
    }
    console.log(`flags: ${flagsMode} (50% rollout, 200 users); ${CONNECTIONS} connections, ${ROUNDS} x ${DURATION_S} s per target, medians; ${os.cpus().length} cores shared with the load generator`);
    console.log(
      JSON.stringify({
        bench: 'proxy',
        direct_rps: rounded('direct'),
        proxy_rps: Math.round(proxyRps),
        nginx_rps: nginxRps === undefined ? 'skipped' : Math.round(nginxRps),
        ratio_vs_nginx: nginxRps === undefined ? null : Number((proxyRps / nginxRps).toFixed(3)),
        p99_added_ms: p99Added('halfNginx'),
        p99_added_ms_half_proxy_rate: p99Added('halfProxy'),
        node_floor_rps: rounded('node-floor'),
        undici_floor_rps: rounded('undici-floor'),
        tcp_floor_rps: rounded('tcp-floor'),
        ...(largeTable ? { routes: options.routes, route_table_ratio: perRoundRatio(largeTable, (sample) => sample.rps), route_table_cpu_ratio: perRoundRatio(largeTable, (sample) => sample.cpuUsPerRequest) } : {}),
        ...(workerMode
          ? {
              worker_scaling: {
                workers: options.workers,
                rps_1: Math.round(proxyRps),
                rps_n: Math.round(maxRps(workerMode)!),
                rps_ratio: perRoundRatio(workerMode, (sample) => sample.rps),
                cpu_us_per_request_1: cpuPerRequest('strangler-proxy') ?? null,
                cpu_us_per_request_n: cpuPerRequest(workerMode) ?? null,
              },
            }
          : {}),
        cpu_us_per_request: Object.fromEntries(targets.filter((target) => target.name !== 'direct').map((target) => [target.name, cpuPerRequest(target.name) ?? null])),
        hpm_rps: rounded('express+hpm'),
        express_middleware_rps: rounded('express+StranglerMiddleware'),
        express_middleware_ratio_vs_proxy: results.has('express+StranglerMiddleware') ? Number((maxRps('express+StranglerMiddleware')! / proxyRps).toFixed(3)) : null,
        flags: flagsMode,
      }),
    );
  } finally {
    for (const target of targets) target.server?.stop();
    upstream.stop();
  }
}

const roleIndex = process.argv.indexOf('--role');
if (roleIndex !== -1) {
  const [role, port, extra, routeCount, workerCount] = process.argv.slice(roleIndex + 1) as [Role, string, string, string, string];
  (role === 'paced' ? pacedLoad(Number(port), Number(extra), DURATION_S) : runRole(role, Number(port), extra, Number(routeCount), Number(workerCount))).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  Promise.resolve()
    .then(() => parseOptions(process.argv.slice(2)))
    .then((options) => options && main(options))
    .catch((error: unknown) => {
      console.error(error instanceof UsageError ? error.message : error);
      process.exitCode = error instanceof UsageError ? 2 : 1;
    });
}
