import cluster from 'node:cluster';
import pino, { type Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { configDigest, createFlagProvider, loadProxyConfigFile, ProxyWorkers, runProxyWorker, StranglerProxy, workerCount, type ProxyConfig } from '../../strangler-proxy';
import { parseCommandArgs, UsageError, type Command } from '../command';

const help = `Usage: strangler proxy --config <file> [--check] [--workers <n|auto>] [--log-level <level>]

Runs the strangler proxy in front of a monolith: routes each request to legacy or an extracted service by the
route table and Unleash flags of the YAML config (see docs/proxy.md and examples/proxy.yaml).

With more than one worker (proxy.workers in the config, or --workers), this process is the primary: it forks the
workers, which share the traffic port, serves the admin and probe listeners for all of them (one route view, one
set of metrics), hands each reload to every worker and replaces a worker that dies.

Signals: SIGHUP reloads the config (a bad file keeps the current routes); SIGTERM/SIGINT stop accepting, finish
requests in flight and exit 0. The config file is also watched for changes (reload.watchFile).

With --check, the config is read and validated as a start would (every problem at once, with its path),
nothing is started, and the command exits 0 when it is valid and 1 when it is not (as nginx -t does).

Options:
  --config <file>       proxy configuration (YAML, \${ENV} and \${ENV:-default} interpolated)
  --check               validate the config and exit: 0 valid, 1 invalid
  --workers <n|auto>    worker processes, overriding proxy.workers (auto: one per core)
  --log-level <level>   pino level (default $LOG_LEVEL or info)
  -h, --help            this text

Example:
  STRANGLER_ADMIN_TOKEN=strangler-admin-token npx strangler proxy --config examples/proxy.yaml`;

export const proxyCommand: Command = {
  name: 'proxy',
  summary: 'run the flag-routed strangler proxy from a YAML config',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      config: { type: 'string' },
      workers: { type: 'string' },
      check: { type: 'boolean', default: false },
      'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (!values.config) throw new UsageError('--config <file> is required');
    const configPath = values.config;
    if (values.check) return checkConfig(configPath);
    const requestedWorkers = values.workers === undefined ? undefined : workersOption(values.workers);
    if (cluster.isWorker) {
      // The primary hands its workers the config it validated (the file may have changed since).
      const { logger, registry } = telemetry(values['log-level']);
      await runProxyWorker({ logger, registry, createFlags: (flags) => createFlagProvider(flags, { logger }) });
      return 0;
    }
    let config: ProxyConfig;
    try {
      config = loadProxyConfigFile(configPath);
    } catch (error) {
      const coded = error as Error & { code?: string };
      if (coded.code === 'SFG_PROXY_CONFIG_INVALID' || coded.code === 'SFG_PROXY_CONFIG_UNREADABLE') throw new UsageError(coded.message);
      throw error;
    }
    const workers = requestedWorkers ?? workerCount(config.proxy.workers);
    const { logger, registry } = telemetry(values['log-level']);
    const proxy =
      workers > 1
        ? new ProxyWorkers({ config, configPath, count: workers }, { logger, registry })
        : new StranglerProxy({ config, configPath }, { logger, registry, flags: createFlagProvider(config.flags, { logger }) });
    await proxy.start();
    await untilStopSignal(logger, () => void proxy.reload());
    await proxy.stop();
    return 0;
  },
};

/** `--check`: the verdict on one line (and every problem, one per line), 0 or 1. */
function checkConfig(configPath: string): number {
  try {
    const config = loadProxyConfigFile(configPath);
    const routes = config.routes.length;
    const clusters = Object.keys(config.clusters).length;
    console.log(`strangler proxy: ${configPath} is valid (${routes} route${routes === 1 ? '' : 's'}, ${clusters} cluster${clusters === 1 ? '' : 's'}, digest ${configDigest(config)})`);
    return 0;
  } catch (error) {
    const coded = error as Error & { code?: string };
    if (coded.code !== 'SFG_PROXY_CONFIG_INVALID' && coded.code !== 'SFG_PROXY_CONFIG_UNREADABLE') throw error;
    console.error(`strangler proxy: ${configPath} is not valid\n${coded.message}`);
    return 1;
  }
}

function telemetry(level: string): { logger: Logger; registry: Registry } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'strangler_proxy_process_' });
  return { logger: pino({ level }), registry };
}

function workersOption(text: string): number {
  if (text === 'auto') return workerCount('auto');
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1 || count > 256) throw new UsageError(`--workers must be a whole number from 1 to 256 or 'auto', got '${text}'`);
  return count;
}

/** Reloads on SIGHUP until SIGTERM or SIGINT arrives. */
function untilStopSignal(logger: Logger, reload: () => void): Promise<void> {
  process.on('SIGHUP', reload);
  return new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'stopping');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.off('SIGHUP', reload);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
