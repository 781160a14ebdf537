import pg from 'pg';
import pino from 'pino';
import { MigrationConsole, prometheusRange, prometheusSamples, RolloutStore } from '../../rollout';
import { integerOption, parseCommandArgs, UsageError, type Command } from '../command';
import { readRolloutFile } from './rollout';
import { replicaHelp, replicasOf } from './routes';

const help = `Usage: strangler console --config <rollout file> [options]

Serves the migration console: a web page with every route's status (as strangler status), charts of the last
minutes (share served by the new side, failed requests and p99 per side), the rollout event log, and buttons to
start, pause, resume and abort a rollout. The page asks for the proxy's admin token; every figure and button goes
through the console's /api, which refuses any other. Figures come from the proxy admin API and from the rollout
file's Prometheus; rollouts from its database. With several proxy replicas the split and the inventory are summed
over them and each replica's flags, configuration and last reload are listed; an --admin-dns name is resolved
again on every refresh. SIGTERM or Ctrl-C stops it.

Options:
  --config <file>           the rollout file (docs/rollout.md)
${replicaHelp(28)}
  --token <token>           the admin token, for the proxy and the console (default $STRANGLER_ADMIN_TOKEN)
  --host <host>             listen on (default 127.0.0.1)
  --port <port>             listen on (default 9460; 0 picks a free port)
  --refresh-ms <ms>         how often the page refreshes (default 2000)
  --chart-minutes <n>       how far back the charts reach (default 15)
  --selector <matchers>     extra label matchers on every proxy query, e.g. 'job="strangler-proxy"'
  --log-level <level>       pino level (default info)
  -h, --help                this text

Example:
  STRANGLER_ADMIN_TOKEN=strangler-admin-token npx strangler console --config rollout.yaml
  # then open http://127.0.0.1:9460`;

export const consoleCommand: Command = {
  name: 'console',
  summary: 'the migration console in a browser: status, charts, rollout events, pause/resume/abort',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      config: { type: 'string' },
      admin: { type: 'string', multiple: true },
      'admin-dns': { type: 'string' },
      token: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '9460' },
      'refresh-ms': { type: 'string' },
      'chart-minutes': { type: 'string' },
      selector: { type: 'string' },
      'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (!values.config) throw new UsageError('--config <file> is required');
    const port = integerOption('port', values.port, { min: 0 });
    if (port > 65_535) throw new UsageError(`--port must be a port number, got '${port}'`);
    const token = values.token ?? process.env.STRANGLER_ADMIN_TOKEN;
    if (!token) throw new UsageError('no admin token: pass --token or set STRANGLER_ADMIN_TOKEN');
    const replicas = { admin: values.admin, 'admin-dns': values['admin-dns'], token };
    await replicasOf(replicas); // refuses a bad --admin / --admin-dns now, not on the first refresh
    const file = readRolloutFile(values.config);
    const logger = pino({ level: values['log-level'] });
    const pool = new pg.Pool({ connectionString: file.database.url, max: 4 });
    pool.on('error', (error) => logger.warn({ err: error }, 'idle database client failed'));
    const store = new RolloutStore(pool, file.database.schema);
    const migrationConsole = new MigrationConsole(
      {
        host: values.host,
        port,
        token,
        ...(values['refresh-ms'] === undefined ? {} : { refreshMs: integerOption('refresh-ms', values['refresh-ms'], { min: 250 }) }),
        ...(values['chart-minutes'] === undefined ? {} : { chartMinutes: integerOption('chart-minutes', values['chart-minutes'], { min: 1 }) }),
        ...(values.selector === undefined ? {} : { selector: values.selector }),
      },
      { admin: () => replicasOf(replicas), samples: prometheusSamples(file.prometheus.url), range: prometheusRange(file.prometheus.url), store, plans: file.rollouts, logger },
    );
    try {
      await store.migrate();
      await migrationConsole.start();
      logger.info({ url: migrationConsole.url, routes: file.rollouts.map((plan) => plan.route) }, 'migration console listening');
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
    } finally {
      await migrationConsole.stop();
      await pool.end();
    }
    return 0;
  },
};
