import fs from 'node:fs';
import pino from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import YAML from 'yaml';
import { createRelay, parseRelayOptions, resetReplicationSlot, type RelayOptions } from '../../outbox';
import { integerOption, parseCommandArgs, UsageError, type Command } from '../command';
import { databaseUrl, kafkaBrokers } from '../environment';
import { boundPort, serveMetrics } from '../metrics-server';

const help = `Usage: strangler relay [--config <file>] [options]

Runs an outbox relay as a standalone process: it publishes the outbox table of one Postgres database to Kafka
(topic <topicPrefix><aggregatetype>, key aggregateid, value payload, headers id, type and the headers column).
Start several with the same configuration for failover: one leads, the others wait as hot standbys.

Configuration comes from, in increasing priority: defaults, environment variables, the --config file
(YAML or JSON, keys as in docs/outbox.md), then the options below. A configuration error names the field
and exits 2. SIGTERM/SIGINT finish in-flight sends, confirm the replication position and exit 0.

Environment:
  DATABASE_URL            outbox database (default postgres://postgres@127.0.0.1:5432/postgres)
  KAFKA_BROKERS           comma-separated brokers (default 127.0.0.1:9092)
  OUTBOX_RELAY_NAME       relay name: metric label, default slot/publication names (default outbox)
  OUTBOX_RELAY_MODE       cdc | polling (default cdc)
  OUTBOX_SCHEMA           schema of the outbox table (default public)
  OUTBOX_TOPIC_PREFIX     topic prefix (default outbox.event.)
  OUTBOX_HEADER_PLACEMENT entries (one Kafka header per entry of the headers column, default), json (one
                          header 'headers' holding the column, as Debezium's EventRouter does) or both

Options:
  --config <file>         YAML or JSON relay options
  --mode <cdc|polling>    overrides mode
  --name <name>           overrides name
  --metrics-port <port>   serve GET /metrics on this port (default 9400; 0 picks a free port)
  --log-level <level>     pino level (default info)
  --reset-slot            recovery after SFG_OUTBOX_SLOT_LOST or SFG_OUTBOX_SLOT_MISSING, once the consumers
                          are reconciled: drop the lost slot and forget it, then exit; the next start creates a
                          new slot. Refuses a slot in use or a healthy one (docs/outbox.md, "Lost slot")
  --force                 with --reset-slot: reset a healthy slot too (the events it holds are skipped)
  -h, --help              this text

Examples:
  npx strangler relay
  DATABASE_URL=postgres://app@db/orders npx strangler relay --mode polling --name orders
  npx strangler relay --config relay.yaml --metrics-port 9401
  npx strangler relay --config relay.yaml --reset-slot`;

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--config: cannot read ${file}: ${(error as Error).message}`);
  }
  const parsed: unknown = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--config: ${file} must hold an object`);
  return parsed as Record<string, unknown>;
}

/** Defaults < environment < config file < flags; nested `kafka` merges key by key. */
export function relayInput(env: NodeJS.ProcessEnv, file: Record<string, unknown>, flags: { mode?: string; name?: string }): Record<string, unknown> {
  const fromEnv: Record<string, unknown> = {
    connectionString: databaseUrl(env),
    ...(env.OUTBOX_RELAY_NAME ? { name: env.OUTBOX_RELAY_NAME } : {}),
    ...(env.OUTBOX_RELAY_MODE ? { mode: env.OUTBOX_RELAY_MODE } : {}),
    ...(env.OUTBOX_SCHEMA ? { schema: env.OUTBOX_SCHEMA } : {}),
    ...(env.OUTBOX_TOPIC_PREFIX !== undefined ? { topicPrefix: env.OUTBOX_TOPIC_PREFIX } : {}),
    ...(env.OUTBOX_HEADER_PLACEMENT ? { headerPlacement: env.OUTBOX_HEADER_PLACEMENT } : {}),
  };
  const fileKafka = typeof file.kafka === 'object' && file.kafka !== null ? (file.kafka as Record<string, unknown>) : {};
  return {
    ...fromEnv,
    ...file,
    ...(flags.mode ? { mode: flags.mode } : {}),
    ...(flags.name ? { name: flags.name } : {}),
    kafka: { brokers: kafkaBrokers(env), ...fileKafka },
  };
}

export const relayCommand: Command = {
  name: 'relay',
  summary: 'publish an outbox table to Kafka (CDC or polling), with failover and /metrics',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      config: { type: 'string' },
      mode: { type: 'string' },
      name: { type: 'string' },
      'metrics-port': { type: 'string', default: '9400' },
      'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
      'reset-slot': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (values.force && !values['reset-slot']) throw new UsageError('--force only goes with --reset-slot');
    const metricsPort = integerOption('metrics-port', values['metrics-port'], { min: 0 });
    if (metricsPort > 65_535) throw new UsageError(`--metrics-port must be a port number, got '${metricsPort}'`);
    let options: RelayOptions;
    try {
      options = parseRelayOptions(relayInput(process.env, values.config ? readConfigFile(values.config) : {}, values));
    } catch (error) {
      const issues = (error as { issues?: { path: string; message: string }[] }).issues;
      if (!issues) throw error;
      throw new UsageError(`invalid configuration:\n${issues.map((issue) => `  ${issue.path}: ${issue.message}`).join('\n')}`);
    }

    if (values['reset-slot']) {
      if (options.mode !== 'cdc') throw new UsageError('--reset-slot: only a cdc relay has a replication slot');
      const reset = await resetReplicationSlot(options, { force: values.force });
      const what = reset.droppedWalStatus ? `dropped (wal_status was '${reset.droppedWalStatus}')` : 'was already gone';
      process.stdout.write(`slot ${reset.slot} ${what}${reset.forgotten ? ', record removed' : ''}: the next start creates a new slot from now\n`);
      return 0;
    }

    const logger = pino({ level: values['log-level'] });
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const relay = createRelay(options, { logger, registry });
    const server = await serveMetrics(registry, metricsPort);
    logger.info({ metricsPort: boundPort(server, metricsPort), relay: options.name, mode: options.mode }, 'relay metrics listening');

    let signalled = false;
    const shutdown = (signal: NodeJS.Signals) => {
      if (signalled) return;
      signalled = true;
      logger.info({ signal }, 'stopping relay');
      void relay.stop();
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    try {
      await relay.start().catch(async (error: unknown) => {
        await relay.stop();
        throw error;
      });
      const fatal = await relay.done;
      await relay.stop();
      if (fatal) {
        logger.error({ err: fatal }, 'relay stopped by an error');
        console.error(`strangler relay: [${(fatal as { code?: string }).code ?? 'error'}] ${fatal.message}`);
        return 1;
      }
      logger.info('relay stopped');
      return 0;
    } finally {
      process.off('SIGTERM', shutdown);
      process.off('SIGINT', shutdown);
      await new Promise((resolve) => server.close(resolve));
    }
  },
};
