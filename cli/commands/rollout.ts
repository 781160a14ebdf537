import pg from 'pg';
import pino from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { loadRolloutFile, prometheusQuery, RolloutController, RolloutStore, type RolloutEvent, type RolloutFile, type RolloutState } from '../../rollout';
import { UnleashAdminClient } from '../../strangler-proxy';
import { integerOption, parseCommandArgs, printOrWatch, UsageError, type Command } from '../command';
import { boundPort, serveMetrics } from '../metrics-server';

const help = `Usage: strangler rollout <run|start|status|pause|resume|abort> [route] --config <file> [options]

Moves routes from legacy to their extracted services step by step, gated on Prometheus (docs/rollout.md).

  run                 the controller: a long-running process that sets each step's Unleash flags, analyses the
                      step every analysisInterval, promotes it after stepDuration when the last analysis passed,
                      holds it when the analysis is inconclusive (too little traffic), and rolls back to 0 % after
                      failureLimit failed analyses. One controller acts per route (Postgres advisory lock); state
                      lives in Postgres, so a restarted controller resumes from its step. SIGTERM stops it.
  start <route>       begin the route's rollout at its first step (the controller picks it up)
  status [route]      every route's rollout (or one route's, with its recent events)
  pause <route>       hold the route at its step; the controller keeps its flags as they are
  resume <route>      continue a paused rollout
  abort <route>       end the rollout; the controller sets the route back to 0 %

Options:
  --config <file>         the rollout file (YAML or JSON; \${VAR} and \${VAR:-default} read from the environment)
  --reason <text>         pause, abort: why, kept in the event log
  --json                  status: one JSON document
  --watch                 status: redraw every --interval-ms until Ctrl-C
  --interval-ms <ms>      status --watch: how often (default 2000)
  --metrics-port <port>   run: serve GET /metrics on this port (default 9450; 0 picks a free port)
  --log-level <level>     run: pino level (default info)
  -h, --help              this text

Examples:
  npx strangler rollout run --config rollout.yaml
  npx strangler rollout start orders --config rollout.yaml
  npx strangler rollout status --config rollout.yaml --watch
  npx strangler rollout abort orders --config rollout.yaml --reason "p99 alarm"`;

const SUBCOMMANDS = ['run', 'start', 'status', 'pause', 'resume', 'abort'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** The rollout file, or a usage error listing every problem in it with its path. */
export function readRolloutFile(path: string): RolloutFile {
  try {
    return loadRolloutFile(path);
  } catch (error) {
    const issues = (error as { issues?: Array<{ path: string; message: string }> }).issues;
    if (!issues) throw error;
    throw new UsageError(`invalid rollout file ${path}:\n${issues.map((issue) => `  ${issue.path}: ${issue.message}`).join('\n')}`);
  }
}

function stepLabel(file: RolloutFile, state: RolloutState): string {
  const plan = file.rollouts.find((candidate) => candidate.route === state.route);
  const step = plan?.steps[state.stepIndex];
  return plan ? `${state.stepIndex + 1}/${plan.steps.length} (${step === 'shadow' ? 'shadow' : `${step} %`})` : String(state.stepIndex + 1);
}

/** The status screen: one line per route of the file, whether it has a rollout yet or not. */
export function formatStatus(file: RolloutFile, states: RolloutState[], lastAnalyses: Map<string, RolloutEvent>): string {
  const rows = file.rollouts.map((plan) => {
    const state = states.find((candidate) => candidate.route === plan.route);
    const analysis = lastAnalyses.get(plan.route);
    return [
      plan.route,
      state?.status ?? 'not started',
      state ? stepLabel(file, state) : '-',
      state ? `${state.weight} %` : '-',
      state ? String(state.failures) : '-',
      analysis ? `${String(analysis.detail.result)} ${analysis.at.toISOString().slice(11, 19)}` : '-',
      state?.reason ?? '',
    ];
  });
  const header = ['ROUTE', 'STATUS', 'STEP', 'WEIGHT', 'FAILURES', 'LAST ANALYSIS', 'REASON'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

function formatEvents(events: RolloutEvent[]): string {
  return events
    .map((event) => {
      const detail = event.kind === 'analysis' ? String(event.detail.result) : Object.entries(event.detail).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join(' ');
      return `${event.at.toISOString()}  ${event.kind.padEnd(9)} step ${event.stepIndex === null ? '-' : event.stepIndex + 1}  ${event.weight ?? '-'} %  ${detail}`;
    })
    .join('\n');
}

async function lastAnalysisOf(store: RolloutStore, routes: string[]): Promise<Map<string, RolloutEvent>> {
  const last = new Map<string, RolloutEvent>();
  for (const route of routes) {
    const analysis = (await store.recentEvents(route, 20)).filter((event) => event.kind === 'analysis').at(-1);
    if (analysis) last.set(route, analysis);
  }
  return last;
}

async function runController(file: RolloutFile, values: { 'metrics-port': string; 'log-level': string }): Promise<number> {
  const metricsPort = integerOption('metrics-port', values['metrics-port'], { min: 0 });
  if (metricsPort > 65_535) throw new UsageError(`--metrics-port must be a port number, got '${metricsPort}'`);
  const logger = pino({ level: values['log-level'] });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const pool = new pg.Pool({ connectionString: file.database.url, max: 4 });
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database client failed'));
  const controller = new RolloutController(file.rollouts, {
    pool,
    connectionString: file.database.url,
    schema: file.database.schema,
    flags: new UnleashAdminClient(file.unleash),
    query: prometheusQuery(file.prometheus.url),
    logger,
    registry,
  });
  const server = await serveMetrics(registry, metricsPort);
  logger.info({ metricsPort: boundPort(server, metricsPort), routes: file.rollouts.map((plan) => plan.route) }, 'rollout controller metrics listening');
  await controller.start();
  logger.info('rollout controller running');
  await new Promise<void>((resolve) => {
    const shutdown = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'stopping the rollout controller');
      resolve();
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  });
  await controller.stop();
  await new Promise((resolve) => server.close(resolve));
  await pool.end();
  return 0;
}

export const rolloutCommand: Command = {
  name: 'rollout',
  summary: 'metric-gated rollouts per route: the controller, and start/status/pause/resume/abort',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      config: { type: 'string' },
      reason: { type: 'string' },
      json: { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      'interval-ms': { type: 'string' },
      'metrics-port': { type: 'string', default: '9450' },
      'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
    });
    const [subcommand, route, extra] = positionals as [string | undefined, string | undefined, string | undefined];
    if (!subcommand) throw new UsageError(`a subcommand is required: ${SUBCOMMANDS.join(', ')}`);
    if (!(SUBCOMMANDS as readonly string[]).includes(subcommand)) throw new UsageError(`unknown subcommand '${subcommand}' (one of ${SUBCOMMANDS.join(', ')})`);
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
    const command = subcommand as Subcommand;
    if (!values.config) throw new UsageError('--config <file> is required');
    const needsRoute = command !== 'run' && command !== 'status';
    if (needsRoute && !route) throw new UsageError(`${command} needs a <route>`);
    if (command === 'run' && route) throw new UsageError(`unexpected argument '${route}'`);
    if ((values.json || values.watch || values['interval-ms'] !== undefined) && command !== 'status') throw new UsageError('--json, --watch and --interval-ms go with status');
    if (values.reason !== undefined && command !== 'pause' && command !== 'abort') throw new UsageError('--reason goes with pause and abort');
    const intervalMs = integerOption('interval-ms', values['interval-ms'], { min: 100, fallback: 2_000 });

    const file = readRolloutFile(values.config);
    if (route && !file.rollouts.some((plan) => plan.route === route)) {
      throw new UsageError(`route '${route}' has no rollout in ${values.config} (routes: ${file.rollouts.map((plan) => plan.route).join(', ')})`);
    }
    if (command === 'run') return runController(file, values);

    const pool = new pg.Pool({ connectionString: file.database.url, max: 2 });
    pool.on('error', () => undefined);
    const store = new RolloutStore(pool, file.database.schema);
    try {
      await store.migrate();
      if (command === 'start') {
        await store.start(route!);
        process.stdout.write(`${route}: rollout started at step 1 of ${file.rollouts.find((plan) => plan.route === route)!.steps.length}; the controller sets its flags\n`);
        return 0;
      }
      if (command === 'pause' || command === 'resume' || command === 'abort') {
        const state = await store.command(route!, command, values.reason);
        process.stdout.write(`${route}: ${state.status}${command === 'abort' ? '; the controller sets it back to 0 %' : ''}\n`);
        return 0;
      }
      const routes = route ? [route] : file.rollouts.map((plan) => plan.route);
      const show = async () => {
        const states = (await store.list()).filter((state) => routes.includes(state.route));
        const analyses = await lastAnalysisOf(store, routes);
        if (values.json) {
          const events = route ? await store.recentEvents(route, 50) : [];
          return JSON.stringify({ rollouts: states, lastAnalyses: Object.fromEntries(analyses), ...(route ? { events } : {}) });
        }
        const table = formatStatus({ ...file, rollouts: file.rollouts.filter((plan) => routes.includes(plan.route)) }, states, analyses);
        return route ? `${table}\n\n${formatEvents(await store.recentEvents(route, 15))}` : table;
      };
      return await printOrWatch(show, { watch: values.watch, json: values.json, intervalMs });
    } finally {
      await pool.end();
    }
  },
};
