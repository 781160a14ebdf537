import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import YAML from 'yaml';
import type { RolloutEvent, RolloutPlanInput, StatusReport } from '../../rollout';
import { createTestDatabase, eventually, promQuery, testEnv, type TestDatabase } from '../helpers';
import { ADMIN_TOKEN, request } from '../strangler-proxy/harness';
import { ANALYSIS_MS, inProcessController, SCRAPE_MS, startStack, unleashFlags } from './stack';

const CLI = path.join(__dirname, '..', '..', 'cli', 'index.ts');

/** The rollout file reads the admin token from the environment, as an operator's would. */
const childEnv = () => ({ ...process.env, SFG_TEST_UNLEASH_ADMIN_TOKEN: testEnv().unleashAdminToken });

/** `strangler rollout run` as a child process (node itself, so kill -9 hits the controller). */
function spawnController(configFile: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'rollout', 'run', '--config', configFile, '--metrics-port', '0', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

function strangler(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

function rolloutFile(db: TestDatabase, plans: RolloutPlanInput[]): string {
  const env = testEnv();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-rollout-file-')), 'rollout.yaml');
  fs.writeFileSync(
    file,
    YAML.stringify({
      prometheus: { url: env.prometheusUrl },
      unleash: { url: env.unleashUrl, adminToken: '${SFG_TEST_UNLEASH_ADMIN_TOKEN}' },
      database: { url: db.url },
      rollouts: plans,
    }),
  );
  return file;
}

const kinds = (events: RolloutEvent[]) => events.filter((event) => event.kind !== 'analysis').map((event) => `${event.kind}${event.detail.step === undefined ? '' : ` ${String(event.detail.step)}`}`);

describe('the rollout controller on the real stack (Unleash, Prometheus, proxy, two upstreams)', () => {
  // A database per test: each starts with no rollout state and an empty event log.
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase('sfg_rollout');
  });
  afterEach(async () => {
    await db.drop();
  });

  it('takes a healthy route from 0 to 100 % through every step with no operator action', async () => {
    const stack = await startStack(200);
    const registry = new Registry();
    const controller = inProcessController(db, [stack.plan()], registry);
    try {
      await controller.start();
      await controller.store.start('orders');
      const ended = await eventually(async () => {
        const state = await controller.store.get('orders');
        return state && state.status !== 'progressing' ? state : undefined;
      }, 90_000, 'the rollout ending', 500);
      expect({ status: ended.status, reason: ended.reason }).toEqual({ status: 'succeeded', reason: null });
      expect(kinds(await controller.store.recentEvents('orders', 200))).toEqual(['started', 'promote 10', 'step 10', 'promote 50', 'step 50', 'promote 100', 'step 100', 'succeeded']);
      expect(await unleashFlags().readRollout(stack.flag)).toEqual({ enabled: true, percent: 100 });
      // The proxy follows: every new request goes to the extracted side.
      await eventually(async () => JSON.parse((await request(`${stack.proxy.url}/api/orders/last`, { headers: { 'x-user-id': 'someone' } })).body).side === 'orders', 10_000, 'the proxy serving the new side');
      const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values;
      expect((await metric('strangler_rollout_weight_percent')).find((value) => value.labels.route === 'orders')?.value).toBe(100);
      expect((await metric('strangler_rollout_analysis_total')).filter((value) => value.labels.result === 'fail')).toEqual([]);
      expect([...stack.statuses.keys()]).toEqual([200]);
    } finally {
      await controller.stop();
      await stack.stop();
    }
  });

  it('rolls a route back to 0 % within two analysis intervals once its new side fails 5 % of requests at 25 %, while GETs are still served', async () => {
    const stack = await startStack(200);
    const controller = inProcessController(db, [stack.plan({ steps: [10, 25, 100] })]);
    let failingAt = 0;
    controller.on('step', (_route: string, state: { weight: number }) => {
      if (state.weight === 25) {
        stack.orders.failEvery = 20;
        failingAt = Date.now();
      }
    });
    try {
      await controller.start();
      await controller.store.start('orders');
      await eventually(async () => (await controller.store.get('orders'))?.status === 'rolled_back', 120_000, 'the rollback', 200);
      const rolledBack = (await controller.store.recentEvents('orders', 200)).find((event) => event.kind === 'rollback')!;
      expect({ failingAt: failingAt > 0, reason: rolledBack.detail.reason }).toEqual({ failingAt: true, reason: expect.any(String) });
      expect(rolledBack.at.getTime() - failingAt).toBeLessThan(2 * ANALYSIS_MS + SCRAPE_MS);
      expect(rolledBack.detail.reason).toMatch(/^errorRatio: new side \d/);
      const state = (await controller.store.get('orders'))!;
      expect(state).toMatchObject({ status: 'rolled_back', weight: 0, stepIndex: 1 });
      expect(await unleashFlags().readRollout(stack.flag)).toMatchObject({ percent: 0 });
      // Every GET was answered 200: the failed ones fell back to legacy.
      expect([...stack.statuses.keys()]).toEqual([200]);
    } finally {
      await controller.stop();
      await stack.stop();
    }
  });
  it('resumes from its stored step after the controller is killed with kill -9; pause holds and resume continues (the CLI)', async () => {
    const stack = await startStack(200);
    const file = rolloutFile(db, [{ ...stack.plan({ steps: [10, 30, 100] }), route: 'orders' }]);
    const state = async () => (await db.pool.query<{ status: string; step_index: number; step_started_at: Date | null }>('select status, step_index, step_started_at from strangler_rollouts where route = $1', ['orders'])).rows[0];
    let controller = spawnController(file);
    try {
      expect(await strangler(['rollout', 'start', 'orders', '--config', file])).toMatchObject({ err: '', code: 0, out: expect.stringContaining('orders: rollout started at step 1 of 3') });
      await eventually(async () => (await state())?.step_index === 1 && (await state())?.step_started_at != null, 60_000, 'the second step (30 %) set', 200).catch((error: Error) => {
        throw new Error(`${error.message}; controller said: ${controller.output().slice(-3_000)}`);
      });
      controller.child.kill('SIGKILL');
      await new Promise((resolve) => controller.child.once('exit', resolve));
      const killedAt = await state();

      // While no controller runs, a pause is recorded; the restarted controller holds the route there.
      expect(await strangler(['rollout', 'pause', 'orders', '--config', file, '--reason', 'checking dashboards'])).toMatchObject({ code: 0, out: 'orders: paused\n' });
      controller = spawnController(file);
      await eventually(() => controller.output().includes('acting on the route'), 30_000, 'the new controller taking the route');
      const held = await strangler(['rollout', 'status', 'orders', '--config', file]);
      expect(held.out).toMatch(/^orders\s+paused\s+2\/3 \(30 %\)\s+30 %/m);
      expect(held.out).toContain('checking dashboards');
      await new Promise((resolve) => setTimeout(resolve, 2 * ANALYSIS_MS));
      expect((await state())!.step_index).toBe(1);

      expect(await strangler(['rollout', 'resume', 'orders', '--config', file])).toMatchObject({ code: 0 });
      const ended = await eventually(async () => {
        const row = (await db.pool.query<{ status: string; reason: string | null }>('select status, reason from strangler_rollouts where route = $1', ['orders'])).rows[0];
        return row && row.status !== 'progressing' ? row : undefined;
      }, 120_000, 'the rollout ending after the restart', 500).catch(async (error: Error) => {
        const analyses = (await db.pool.query('select at, detail from strangler_rollout_events where route = $1 order by id desc limit 5', ['orders'])).rows;
        throw new Error(`${error.message}; last analyses: ${JSON.stringify(analyses)}`);
      });
      expect(ended).toEqual({ status: 'succeeded', reason: null });
      const events = (await strangler(['rollout', 'status', 'orders', '--config', file, '--json'])).out;
      const { events: log } = JSON.parse(events) as { events: Array<{ kind: string; detail: { step?: number } }> };
      const sequence = log.filter((event) => event.kind !== 'analysis').map((event) => `${event.kind}${event.detail.step === undefined ? '' : ` ${event.detail.step}`}`);
      // Resumed at 30 %: the first steps were not run again.
      expect(sequence).toEqual(['started', 'promote 10', 'step 10', 'promote 30', 'step 30', 'pause', 'resume', 'promote 100', 'step 100', 'succeeded']);
      expect(killedAt).toMatchObject({ status: 'progressing', step_index: 1 });
      expect([...stack.statuses.keys()]).toEqual([200]);
    } finally {
      controller.child.kill('SIGKILL');
      await stack.stop();
    }
  }, 240_000);

  it('holds a step that saw too little traffic instead of promoting it', async () => {
    const stack = await startStack(0);
    const controller = inProcessController(db, [stack.plan({ route: 'orders', steps: [10, 100], stepDuration: '3s', minRequests: 10 })]);
    const results: string[] = [];
    controller.on('analysis', (_route: string, analysis: { result: string }) => results.push(analysis.result));
    try {
      await controller.start();
      await controller.store.start('orders');
      // Four analyses, well past the step's 3 s, on a route nobody calls.
      await eventually(() => results.length >= 4, 60_000, 'four analyses');
      expect(results.every((result) => result === 'inconclusive')).toBe(true);
      expect(await controller.store.get('orders')).toMatchObject({ status: 'progressing', stepIndex: 0, weight: 10 });
      const analysis = (await controller.store.recentEvents('orders', 5)).filter((event) => event.kind === 'analysis').at(-1)!;
      expect(analysis.detail.checks).toEqual(expect.arrayContaining([expect.objectContaining({ check: 'traffic', result: 'inconclusive', limit: 10 })]));
    } finally {
      await controller.stop();
      await stack.stop();
    }
  });
  it('strangler status shows the route: rollout, live split, 5xx and p99 per side as Prometheus has them, and the rollout state', async () => {
    const stack = await startStack(200);
    const file = rolloutFile(db, [stack.plan()]);
    try {
      stack.orders.failEvery = 50;
      await unleashFlags().setRollout(stack.flag, 50);
      await eventually(async () => (await stack.proxy.adminGet('/routes')).body.routes[0].rolloutPercent === 50, 15_000, 'the proxy at 50 %');
      const selector = `testrun="${stack.testrun}"`;
      const extractedRate = `sum(rate(strangler_proxy_requests_total{route="orders",target="extracted",${selector}}[5m]))`;
      await eventually(async () => Number((await promQuery(extractedRate))[0]?.value[1] ?? 0) > 0, 30_000, 'extracted requests in Prometheus', 500);
      const args = ['status', '--admin', stack.proxy.admin, '--token', ADMIN_TOKEN, '--prometheus', testEnv().prometheusUrl, '--selector', selector, '--rollout-config', file];
      const failed = async () => {
        const { out, code, err } = await strangler([...args, '--json']);
        expect({ code, err }).toEqual({ code: 0, err: '' });
        return JSON.parse(out) as StatusReport;
      };
      // The proxy falls back on the failed GETs: they count as the new side's failures, 2 % of its requests.
      const report = await eventually(async () => {
        const current = await failed();
        const ratio = current.routes[0]?.errorRatio.extracted;
        return ratio !== undefined && ratio > 0.01 ? current : undefined;
      }, 30_000, 'a 5xx ratio on the new side', 1_000);
      const [route] = report.routes;
      expect(route).toMatchObject({ route: 'orders', rolloutPercent: 50, circuit: expect.any(String), rollout: { status: 'not started', step: '-' } });
      expect(route!.lastMinute.extracted).toBeGreaterThan(0);
      expect(route!.errorRatio.legacy).toBe(0);
      expect(route!.errorRatio.extracted).toBeLessThan(0.03);
      expect(route!.p99Seconds.extracted).toBeGreaterThan(0);
      expect(report.flagsReady).toBe(true);
      const text = await strangler(args);
      expect(text.out).toMatch(/^orders\s+50%\s+-\s+not started\s+\d+(\.\d+)?% of \d+\s+0\.00% \/ [12]\.\d\d%/m);
      expect(text.out).toContain('flags: ready');
      // Half the users are still on legacy: the inventory lists the orders endpoint it answers.
      expect(report.legacyEndpoints[0]).toMatchObject({ route: 'orders', method: 'GET', endpoint: '/api/orders/{id}' });
      expect(text.out).toMatch(/^legacy still answers 1 endpoint, most requested first:\n\s+\d+\s+GET\s+\/api\/orders\/\{id\}\s+\(route orders/m);
    } finally {
      await stack.stop();
    }
  });
});
