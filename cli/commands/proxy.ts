import pino from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createFlagProvider, loadProxyConfigFile, StranglerProxy, type ProxyConfig } from '../../strangler-proxy';
import { parseCommandArgs, UsageError, type Command } from '../command';

const help = `Usage: strangler proxy --config <file> [--log-level <level>]

Runs the strangler proxy in front of a monolith: routes each request to legacy or an extracted service by the
route table and Unleash flags of the YAML config (see docs/proxy.md and examples/proxy.yaml).

Signals: SIGHUP reloads the config (a bad file keeps the current routes); SIGTERM/SIGINT stop accepting, finish
requests in flight and exit 0. The config file is also watched for changes (reload.watchFile).

Options:
  --config <file>       proxy configuration (YAML, \${ENV} and \${ENV:-default} interpolated)
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
      'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (!values.config) throw new UsageError('--config <file> is required');
    const configPath = values.config;
    let config: ProxyConfig;
    try {
      config = loadProxyConfigFile(configPath);
    } catch (error) {
      const coded = error as Error & { code?: string };
      if (coded.code === 'SFG_PROXY_CONFIG_INVALID' || coded.code === 'SFG_PROXY_CONFIG_UNREADABLE') throw new UsageError(coded.message);
      throw error;
    }
    const logger = pino({ level: values['log-level'] });
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'strangler_proxy_process_' });
    const flags = createFlagProvider(config.flags, { logger });
    const proxy = new StranglerProxy({ config, configPath }, { logger, registry, flags });
    await proxy.start();

    const reload = () => void proxy.reload();
    process.on('SIGHUP', reload);
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        logger.info({ signal }, 'stopping');
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        resolve();
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    process.off('SIGHUP', reload);
    await proxy.stop();
    return 0;
  },
};
