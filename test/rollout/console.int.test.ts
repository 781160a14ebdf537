import path from 'node:path';
import type { Page } from 'playwright-core';
import { MigrationConsole, parseRolloutPlan, prometheusRange, prometheusSamples, RolloutStore } from '../../rollout';
import { ProxyAdminClient, ProxyReplicas } from '../../strangler-proxy';
import { launchChromium, waitForCount, waitForText } from '../helpers/browser';
import { createTestDatabase, eventually, portBelowEphemeralRange, testEnv, type TestDatabase } from '../helpers';
import { ADMIN_TOKEN, silentLogger } from '../strangler-proxy/harness';
import { inProcessController, startStack, unleashFlags, type Stack } from './stack';

const SCREENSHOT = path.join(__dirname, '..', '..', 'docs', 'console.png');

describe('the migration console on the real stack, in headless Chromium', () => {
  let db: TestDatabase;
  let stack: Stack;
  let controller: ReturnType<typeof inProcessController>;
  let migrationConsole: MigrationConsole;
  /** A second replica nothing listens on: the console lists it as unreachable and shows the other's figures. */
  let goneReplica: string;

  beforeAll(async () => {
    db = await createTestDatabase('sfg_console');
    stack = await startStack(200);
    // Legacy fails one request in 20, so the failure figures have something to show.
    stack.legacy.failEvery = 20;
    const plan = stack.plan({ steps: [10, 50, 100], stepDuration: '8s', analysisInterval: '2s', failureLimit: 3 });
    controller = inProcessController(db, [plan]);
    await controller.start();
    const prometheus = testEnv().prometheusUrl;
    goneReplica = `http://127.0.0.1:${await portBelowEphemeralRange()}`;
    const replicas = new ProxyReplicas([stack.proxy.admin, goneReplica].map((url) => new ProxyAdminClient({ url, token: ADMIN_TOKEN })));
    migrationConsole = new MigrationConsole(
      { port: 0, token: ADMIN_TOKEN, refreshMs: 500, chartMinutes: 5, chartStepSeconds: 2, selector: plan.selector },
      {
        admin: async () => replicas,
        samples: prometheusSamples(prometheus),
        range: prometheusRange(prometheus),
        store: new RolloutStore(db.pool),
        plans: [parseRolloutPlan(plan)],
        logger: silentLogger,
      },
    );
    await migrationConsole.start();
  });
  afterAll(async () => {
    await migrationConsole?.stop();
    await controller?.stop();
    await stack?.stop();
    await db?.drop();
  });

  it('refuses every /api request without the admin token, and names what is wrong with a bad command', async () => {
    expect((await fetch(`${migrationConsole.url}/api/status`)).status).toBe(401);
    expect((await fetch(`${migrationConsole.url}/api/status`, { headers: { authorization: 'Bearer not-the-token' } })).status).toBe(401);
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const unknownCommand = await fetch(`${migrationConsole.url}/api/rollouts/orders/explode`, { method: 'POST', headers: auth });
    expect({ status: unknownCommand.status, body: await unknownCommand.json() }).toMatchObject({ status: 400, body: { error: { code: 'SFG_ROLLOUT_CONSOLE_BAD_REQUEST', message: expect.stringContaining("'explode'") } } });
    const unknownRoute = await fetch(`${migrationConsole.url}/api/rollouts/carts/pause`, { method: 'POST', headers: auth });
    expect(unknownRoute.status).toBe(404);
    const notStarted = await fetch(`${migrationConsole.url}/api/rollouts/orders/pause`, { method: 'POST', headers: auth });
    expect({ status: notStarted.status, body: await notStarted.json() }).toMatchObject({ status: 404, body: { error: { code: 'SFG_ROLLOUT_NOT_FOUND' } } });
    // The page itself holds no data and needs no token.
    expect((await fetch(migrationConsole.url)).headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('shows the figures Prometheus has, starts the rollout, and holds it when pause is clicked', async () => {
    const { context, close } = await launchChromium();
    try {
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(migrationConsole.url);
      await page.fill('#token', ADMIN_TOKEN);
      await page.click('button[type=submit]');

      // Each replica with its own state: the live one with the digest its admin API reports, the other unreachable.
      const digest = ((await (await fetch(`${stack.proxy.admin}/routes`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { config: { digest: string } }).config.digest;
      await waitForCount(page.locator(`#replicas tbody tr[data-state="ok"][data-digest="${digest}"]`), 1, 10_000);
      await waitForCount(page.locator(`#replicas tbody tr[data-state="unreachable"][data-replica="${goneReplica}"]`), 1, 10_000);
      await waitForText(page.locator(`#replicas tbody tr[data-state="ok"] td`).nth(2), 'ready', 10_000);

      await page.getByTestId('start-orders').click();
      await waitForText(page.getByTestId('status-orders'), 'progressing', 30_000);
      await waitForText(page.getByTestId('rollout-orders'), '10%', 30_000);

      // Failure ratio and p99 per side, as the page shows them, against the same query at the same moment.
      const figures = await eventually(() => readFigures(page), 60_000, 'failure and p99 figures for both sides', 500);
      const selector = `route="orders",testrun="${stack.testrun}"`;
      const ratio = (target: string) =>
        `sum(rate(strangler_proxy_requests_total{code=~"5..",target="${target}",${selector}}[5m])) / sum(rate(strangler_proxy_requests_total{target="${target}",${selector}}[5m]))`;
      const p99 = (target: string) => `histogram_quantile(0.99, sum by (le) (rate(strangler_proxy_request_duration_seconds_bucket{target="${target}",${selector}}[5m])))`;
      const at = async (expression: string) => (await prometheusSamples(testEnv().prometheusUrl)(expression, figures.at))[0]?.value ?? 0;
      expect(figures.errorsLegacy).toBeCloseTo(await at(ratio('legacy')), 9);
      expect(figures.errorsLegacy).toBeGreaterThan(0.02);
      expect(figures.p99Legacy).toBeCloseTo(await at(p99('legacy')), 9);
      expect(figures.p99Extracted).toBeCloseTo(await at(p99('extracted')), 9);
      // The share chart draws the new side's share, which follows the 10 % step.
      const share = await eventually(async () => Number((await page.getByTestId('chart-share-orders').locator('polyline').getAttribute('data-last')) ?? NaN) || undefined, 30_000, 'a share line', 500);
      expect(share).toBeGreaterThan(0);
      expect(share).toBeLessThan(0.3);

      await page.getByTestId('pause-orders').click();
      await waitForText(page.getByTestId('status-orders'), 'paused (from the console)', 10_000);
      const paused = await controller.store.get('orders');
      expect(paused).toMatchObject({ status: 'paused', stepIndex: 0, weight: 10 });
      // Past the step's 8 s, a progressing rollout would have moved to 50 %: a paused one holds.
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      expect(await controller.store.get('orders')).toMatchObject({ status: 'paused', stepIndex: 0, weight: 10 });
      expect(await unleashFlags().readRollout(stack.flag)).toEqual({ enabled: true, percent: 10 });
      await waitForCount(page.locator('#events tbody tr[data-kind="pause"]'), 1, 10_000);
      await page.getByTestId('resume-orders').waitFor({ state: 'visible', timeout: 5_000 });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(pageErrors).toEqual([]);
    } finally {
      await close();
    }
  });
});

interface Figures {
  at: number;
  errorsLegacy: number;
  p99Legacy: number;
  p99Extracted: number;
}

/** One consistent reading of the routes table (all from one refresh), or undefined while a figure is missing. */
async function readFigures(page: Page): Promise<Figures | undefined> {
  return page.locator('#routes').evaluate((table) => {
    const value = (testid: string) => table.querySelector(`[data-testid="${testid}"]`)?.getAttribute('data-value') ?? '';
    const at = Number(table.getAttribute('data-at'));
    const read = { errorsLegacy: value('errors-legacy-orders'), p99Legacy: value('p99-legacy-orders'), p99Extracted: value('p99-extracted-orders') };
    if (!at || Object.values(read).some((text) => text === '')) return undefined;
    return { at, errorsLegacy: Number(read.errorsLegacy), p99Legacy: Number(read.p99Legacy), p99Extracted: Number(read.p99Extracted) };
  });
}
