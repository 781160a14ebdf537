import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { authorised, type ProxyAdminClient, type ProxyReplicas } from '../../strangler-proxy';
import { RolloutError } from '../errors';
import type { RolloutPlan } from '../options';
import type { QueryRange, QuerySamples, Series } from '../prometheus';
import { collectStatus } from '../status';
import type { RolloutStore } from '../store';
import { parseConsoleOptions, type ConsoleOptions, type ConsoleOptionsInput } from './options';
import type { ConsoleSeries, ConsoleStatusReport } from './api';
import { CONSOLE_SCRIPT_PATH, consolePage, consoleScript } from './page';

export interface ConsoleDeps {
  /**
   * The proxy admin API: one replica, several, or a function asked again on every refresh (a DNS name resolved anew
   * as replicas come and go).
   */
  admin: ProxyAdminClient | ProxyReplicas | (() => Promise<ProxyReplicas>);
  samples: QuerySamples;
  range: QueryRange;
  store: RolloutStore;
  plans: RolloutPlan[];
  logger: Logger;
}

const COMMANDS = new Set(['start', 'pause', 'resume', 'abort']);
const STATUS_OF_CODE: Record<string, number> = { SFG_ROLLOUT_NOT_FOUND: 404, SFG_ROLLOUT_BAD_TRANSITION: 409, SFG_ROLLOUT_ALREADY_RUNNING: 409 };
const MAX_BODY_BYTES = 4_096;


function send(res: http.ServerResponse, status: number, body: unknown, type = 'application/json; charset=utf-8'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

const problem = (code: string, message: string) => ({ error: { code, message } });

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > MAX_BODY_BYTES) throw new RolloutError('SFG_ROLLOUT_CONSOLE_BAD_REQUEST', `the body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new RolloutError('SFG_ROLLOUT_CONSOLE_BAD_REQUEST', 'the body must be a JSON object such as {"reason": "p99 alarm"}');
}

/**
 * The migration console: one page with every route's status (as `strangler status`), charts over time (share
 * served by the new side, failures and p99 per side), the rollout event log, and start/pause/resume/abort. The
 * page holds no data; every figure and command goes through /api, which needs the admin token.
 */
export class MigrationConsole {
  private readonly options: ConsoleOptions;
  private server: http.Server | undefined;

  constructor(
    input: ConsoleOptionsInput,
    private readonly deps: ConsoleDeps,
  ) {
    this.options = parseConsoleOptions(input);
  }

  get url(): string {
    if (!this.server) throw new RolloutError('SFG_ROLLOUT_CONSOLE_STOPPED', 'the console is not started');
    const { port } = this.server.address() as AddressInfo;
    return `http://${this.options.host}:${port}`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        const code = error instanceof RolloutError ? error.code : 'SFG_ROLLOUT_CONSOLE_FAILED';
        if (!(error instanceof RolloutError)) this.deps.logger.error({ err: error, path: req.url }, 'console request failed');
        if (!res.headersSent) send(res, STATUS_OF_CODE[code] ?? (code === 'SFG_ROLLOUT_CONSOLE_BAD_REQUEST' ? 400 : 502), problem(code, (error as Error).message));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console');
    if (req.method === 'GET' && url.pathname === '/') {
      send(res, 200, consolePage({ refreshMs: this.options.refreshMs }), 'text/html; charset=utf-8');
      return;
    }
    if (req.method === 'GET' && url.pathname === CONSOLE_SCRIPT_PATH) {
      send(res, 200, consoleScript(), 'text/javascript; charset=utf-8');
      return;
    }
    if (!url.pathname.startsWith('/api/')) {
      send(res, 404, problem('SFG_ROLLOUT_CONSOLE_NOT_FOUND', `no page at ${url.pathname}`));
      return;
    }
    if (!authorised(req.headers.authorization, this.options.token)) {
      send(res, 401, problem('SFG_ROLLOUT_CONSOLE_UNAUTHORISED', 'the admin token is required (Authorization: Bearer <token>)'));
      return;
    }
    const command = /^\/api\/rollouts\/([^/]+)\/([a-z]+)$/.exec(url.pathname);
    if (req.method === 'POST' && command) {
      await this.command(decodeURIComponent(command[1]!), command[2]!, req, res);
      return;
    }
    if (req.method !== 'GET') {
      send(res, 405, problem('SFG_ROLLOUT_CONSOLE_METHOD', `${req.method} ${url.pathname} is not allowed`));
      return;
    }
    if (url.pathname === '/api/status') {
      const admin = typeof this.deps.admin === 'function' ? await this.deps.admin() : this.deps.admin;
      const report = await collectStatus({ admin, query: this.deps.samples, selector: this.options.selector, plans: this.deps.plans, store: this.deps.store });
      const states = await this.deps.store.list();
      const plans = this.deps.plans.map((plan) => ({ route: plan.route, steps: plan.steps, state: states.find((state) => state.route === plan.route) ?? null }));
      const answer: ConsoleStatusReport = { ...report, plans };
      send(res, 200, answer);
    } else if (url.pathname === '/api/series') {
      send(res, 200, await this.series());
    } else if (url.pathname === '/api/events') {
      const limit = Number(url.searchParams.get('limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new RolloutError('SFG_ROLLOUT_CONSOLE_BAD_REQUEST', `limit must be an integer from 1 to 500, got '${url.searchParams.get('limit')}'`);
      send(res, 200, { events: await this.deps.store.recentEvents(url.searchParams.get('route') ?? undefined, limit) });
    } else {
      send(res, 404, problem('SFG_ROLLOUT_CONSOLE_NOT_FOUND', `no API at ${url.pathname}`));
    }
  }

  private async command(route: string, command: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!COMMANDS.has(command)) throw new RolloutError('SFG_ROLLOUT_CONSOLE_BAD_REQUEST', `unknown command '${command}' (one of ${[...COMMANDS].join(', ')})`);
    if (!this.deps.plans.some((plan) => plan.route === route)) throw new RolloutError('SFG_ROLLOUT_NOT_FOUND', `route '${route}' has no rollout plan`);
    const body = await readJson(req);
    if (body.reason !== undefined && (typeof body.reason !== 'string' || body.reason.length > 500)) throw new RolloutError('SFG_ROLLOUT_CONSOLE_BAD_REQUEST', 'reason must be a string of at most 500 characters');
    const reason = typeof body.reason === 'string' && body.reason ? body.reason : `from the console`;
    const state = command === 'start' ? await this.deps.store.start(route, 'console') : await this.deps.store.command(route, command as 'pause' | 'resume' | 'abort', reason);
    this.deps.logger.info({ route, command, reason }, 'rollout command from the console');
    send(res, 200, { rollout: state });
  }

  /** Per route over the last `chartMinutes`: share served by the new side, failure ratio and p99 per side. */
  private async series(): Promise<ConsoleSeries> {
    const { chartMinutes, chartStepSeconds: stepS, selector } = this.options;
    const endS = Math.round(Date.now() / 1000);
    const range = { startS: endS - chartMinutes * 60, endS, stepS };
    const inner = selector;
    const extra = selector ? `,${selector}` : '';
    const [share, errors, p99] = await Promise.all([
      this.deps.range(`sum by (route) (rate(strangler_proxy_requests_total{target="extracted"${extra}}[1m])) / sum by (route) (rate(strangler_proxy_requests_total{${inner}}[1m]))`, range),
      // A side with requests and no failure has a ratio of 0, not no line: `or` fills in the missing 5xx series.
      this.deps.range(
        `(sum by (route, target) (rate(strangler_proxy_requests_total{code=~"5.."${extra}}[1m])) or 0 * sum by (route, target) (rate(strangler_proxy_requests_total{${inner}}[1m]))) / sum by (route, target) (rate(strangler_proxy_requests_total{${inner}}[1m]))`,
        range,
      ),
      this.deps.range(`histogram_quantile(0.99, sum by (route, target, le) (rate(strangler_proxy_request_duration_seconds_bucket{${inner}}[1m])))`, range),
    ]);
    const pick = (series: Series[], route: string, target?: string) => series.find((one) => one.labels.route === route && (target === undefined || one.labels.target === target))?.points ?? [];
    const routes = new Set([...share, ...errors, ...p99].map((one) => one.labels.route ?? '').filter(Boolean));
    return {
      ...range,
      routes: Object.fromEntries(
        [...routes].sort().map((route) => [
          route,
          {
            extractedShare: pick(share, route),
            errorRatio: { legacy: pick(errors, route, 'legacy'), extracted: pick(errors, route, 'extracted') },
            p99Seconds: { legacy: pick(p99, route, 'legacy'), extracted: pick(p99, route, 'extracted') },
          },
        ]),
      ),
    };
  }
}
