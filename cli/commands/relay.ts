import fs from 'node:fs';
import pino from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import YAML from 'yaml';
import { BinlogCaptureRelay, createRelay, isMysqlUrl, parseRelayOptions, resetReplicationSlot, type RelayOptions } from '../../outbox';
import { integerOption, parseCommandArgs, UsageError, type Command } from '../command';
import { databaseUrl, kafkaBrokers } from '../environment';
import { boundPort, serveMetrics } from '../metrics-server';

const help = `Usage: strangler relay [--config <file>] [options]
       strangler relay --mode tables --tables <schema.table,...> [options]

Runs an outbox relay as a standalone process: it publishes the outbox table of one Postgres database to Kafka
(topic <topicPrefix><aggregatetype>, key aggregateid, value payload, headers id, type and the headers column).
With --mode tables it captures the row changes of the named tables instead (no outbox, no change to the
application): records as Debezium's Postgres connector writes them (topic <prefix>.<schema>.<table>, key the
primary key as JSON, value the change-event envelope, a tombstone after each delete), with the headers origin,
id, type, txid, lsn and commit_lsn. It needs wal_level=logical and a role with REPLICATION, and adds nothing to
the database but its publication and slot; it checks all of that at start and names what to run (docs/capture.md).
With a mysql:// DATABASE_URL (MySQL 5.7-8.4 or MariaDB 10.5+), --mode tables reads the server's binlog as a
replica would and writes Debezium's MySQL connector records (topic <prefix>.<db>.<table>; source.connector is
mariadb on MariaDB, as Debezium's MariaDB connector writes it), with the headers origin, id, type, file, pos and
gtid. It needs log_bin on, binlog_format=ROW, binlog_row_image=FULL and a user with REPLICATION SLAVE,
REPLICATION CLIENT and SELECT on the tables; it adds nothing to the server and keeps its binlog position in
the compacted Kafka topic strangler_binlog_positions (capture.positionTopic), key the relay's slot name.
Start several with the same configuration for failover: one leads, the others wait as hot standbys.

Configuration comes from, in increasing priority: defaults, environment variables, the --config file
(YAML or JSON, keys as in docs/outbox.md), then the options below. A configuration error names the field
and exits 2. SIGTERM/SIGINT finish in-flight sends, confirm the replication position and exit 0.

Environment:
  DATABASE_URL            the outbox database, or the database of the tables to capture
                          (default postgres://postgres@127.0.0.1:5432/postgres); mode tables also takes
                          mysql://user:password@host:3306/db (MySQL or MariaDB: binlog capture)
  KAFKA_BROKERS           comma-separated brokers (default 127.0.0.1:9092)
  OUTBOX_RELAY_NAME       relay name: metric label, default slot/publication names (default outbox)
  OUTBOX_RELAY_MODE       cdc | polling | tables (default cdc)
  OUTBOX_SCHEMA           schema of the outbox table (default public; not for mode tables)
  OUTBOX_TOPIC_PREFIX     topic prefix (default outbox.event.; not for mode tables)
  OUTBOX_HEADER_PLACEMENT entries (one Kafka header per entry of the headers column, default), json (one
                          header 'headers' holding the column, as Debezium's EventRouter does) or both
  CAPTURE_TABLES          mode tables: comma-separated tables to capture (schema.table; table = public.table;
                          on MySQL db.table, table = a table of DATABASE_URL's database)
  CAPTURE_TOPIC_PREFIX    mode tables: Debezium's topic.prefix (default: the relay name, capture)
  CAPTURE_ORIGIN          mode tables: origin header of unmarked transactions (default legacy)

Options:
  --config <file>         YAML or JSON relay options (mode tables: the capture key, docs/capture.md)
  --mode <cdc|polling|tables>
                          overrides mode
  --name <name>           overrides name (default outbox; capture in mode tables)
  --tables <list>         mode tables: the tables to capture, comma-separated schema.table (names are
                          case-sensitive; a table needs a primary key)
  --topic-prefix <prefix> mode tables: records go to <prefix>.<schema>.<table> (default: the relay name)
  --origin <origin>       mode tables: the origin header of changes whose transaction is not marked with
                          markOrigin (Postgres) or markMysqlStatement (MySQL/MariaDB) (default legacy)
  --publication <name>    the publication to stream (default strangler_<name>): an existing one made by the
                          tables' owner when this role may not create it
  --metrics-port <port>   serve GET /metrics on this port (default 9400; 0 picks a free port)
  --log-level <level>     pino level (default info)
  --reset-slot            recovery after SFG_OUTBOX_SLOT_LOST or SFG_OUTBOX_SLOT_MISSING, once the consumers
                          are reconciled: drop the lost slot and forget it, then exit; the next start creates a
                          new slot. Refuses a slot in use or a healthy one (docs/outbox.md, "Lost slot"). With
                          --mode tables (and its --name or --config), the capture relay's slot
  --force                 with --reset-slot: reset a healthy slot too (the events it holds are skipped)
  --forget-position       mode tables on MySQL/MariaDB: forget the saved binlog position (after
                          SFG_CAPTURE_BINLOG_PURGED or a move to another server, once the consumers are
                          reconciled), then exit; the next start begins at the end of the binlog
  -h, --help              this text

Examples:
  npx strangler relay
  DATABASE_URL=postgres://app@db/orders npx strangler relay --mode polling --name orders
  npx strangler relay --config relay.yaml --metrics-port 9401
  npx strangler relay --config relay.yaml --reset-slot
  npx strangler relay --mode tables --tables inventory.orders,inventory.order_lines --topic-prefix legacy
  npx strangler relay --mode tables --tables inventory.orders --reset-slot
  DATABASE_URL=mysql://capture:secret@127.0.0.1:3306/shop npx strangler relay --mode tables --tables shop.orders
  DATABASE_URL=mysql://capture:secret@127.0.0.1:3306/shop npx strangler relay --mode tables --tables shop.orders --forget-position`;

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

export interface RelayFlags {
  mode?: string;
  name?: string;
  tables?: string;
  'topic-prefix'?: string;
  origin?: string;
  publication?: string;
}

const list = (text: string) => text.split(',').map((item) => item.trim()).filter(Boolean);
const objectAt = (value: unknown) => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

/**
 * Defaults < environment < config file < flags; nested `kafka` and `capture` merge key by key. The outbox table's
 * variables (OUTBOX_SCHEMA, OUTBOX_TOPIC_PREFIX, OUTBOX_HEADER_PLACEMENT) do not reach a relay of mode tables.
 */
export function relayInput(env: NodeJS.ProcessEnv, file: Record<string, unknown>, flags: RelayFlags): Record<string, unknown> {
  const mode = flags.mode ?? file.mode ?? env.OUTBOX_RELAY_MODE;
  const fromEnv: Record<string, unknown> = {
    connectionString: databaseUrl(env),
    ...(env.OUTBOX_RELAY_NAME ? { name: env.OUTBOX_RELAY_NAME } : {}),
    ...(env.OUTBOX_RELAY_MODE ? { mode: env.OUTBOX_RELAY_MODE } : {}),
    ...(mode !== 'tables' && env.OUTBOX_SCHEMA ? { schema: env.OUTBOX_SCHEMA } : {}),
    ...(mode !== 'tables' && env.OUTBOX_TOPIC_PREFIX !== undefined ? { topicPrefix: env.OUTBOX_TOPIC_PREFIX } : {}),
    ...(mode !== 'tables' && env.OUTBOX_HEADER_PLACEMENT ? { headerPlacement: env.OUTBOX_HEADER_PLACEMENT } : {}),
  };
  const capture =
    mode === 'tables'
      ? {
          capture: {
            ...(env.CAPTURE_TABLES ? { tables: list(env.CAPTURE_TABLES) } : {}),
            ...(env.CAPTURE_TOPIC_PREFIX ? { topicPrefix: env.CAPTURE_TOPIC_PREFIX } : {}),
            ...(env.CAPTURE_ORIGIN ? { origin: env.CAPTURE_ORIGIN } : {}),
            ...objectAt(file.capture),
            ...(flags.tables !== undefined ? { tables: list(flags.tables) } : {}),
            ...(flags['topic-prefix'] !== undefined ? { topicPrefix: flags['topic-prefix'] } : {}),
            ...(flags.origin !== undefined ? { origin: flags.origin } : {}),
          },
        }
      : {};
  return {
    ...fromEnv,
    ...file,
    ...(flags.mode ? { mode: flags.mode } : {}),
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.publication ? { publicationName: flags.publication } : {}),
    ...capture,
    kafka: { brokers: kafkaBrokers(env), ...objectAt(file.kafka) },
  };
}

export const relayCommand: Command = {
  name: 'relay',
  summary: 'publish an outbox table (CDC or polling) or capture tables (Debezium records) to Kafka, with failover and /metrics',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      config: { type: 'string' },
      mode: { type: 'string' },
      name: { type: 'string' },
      tables: { type: 'string' },
      'topic-prefix': { type: 'string' },
      origin: { type: 'string' },
      publication: { type: 'string' },
      'metrics-port': { type: 'string', default: '9400' },
      'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
      'reset-slot': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      'forget-position': { type: 'boolean', default: false },
    });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (values.force && !values['reset-slot']) throw new UsageError('--force only goes with --reset-slot');
    const metricsPort = integerOption('metrics-port', values['metrics-port'], { min: 0 });
    if (metricsPort > 65_535) throw new UsageError(`--metrics-port must be a port number, got '${metricsPort}'`);
    const input = relayInput(process.env, values.config ? readConfigFile(values.config) : {}, values);
    const captureFlag = (['tables', 'topic-prefix', 'origin'] as const).find((flag) => values[flag] !== undefined);
    if (captureFlag && input.mode !== 'tables') throw new UsageError(`--${captureFlag} only goes with --mode tables`);
    let options: RelayOptions;
    try {
      options = parseRelayOptions(input);
    } catch (error) {
      const issues = (error as { issues?: { path: string; message: string }[] }).issues;
      if (!issues) throw error;
      throw new UsageError(`invalid configuration:\n${issues.map((issue) => `  ${issue.path}: ${issue.message}`).join('\n')}`);
    }

    if (values['forget-position']) {
      if (options.mode !== 'tables' || !isMysqlUrl(options.connectionString)) {
        throw new UsageError('--forget-position: only a tables relay on MySQL/MariaDB (a mysql:// DATABASE_URL) keeps a binlog position');
      }
      const relay = new BinlogCaptureRelay(options, { logger: pino({ level: 'warn' }), registry: new Registry() });
      await relay.forgetPosition();
      process.stdout.write(`binlog position of ${options.slotName} forgotten (topic ${options.capture!.positionTopic}): the next start begins at the end of the binlog\n`);
      return 0;
    }

    if (values['reset-slot']) {
      if (options.mode === 'polling') throw new UsageError('--reset-slot: only a cdc or tables relay has a replication slot');
      if (isMysqlUrl(options.connectionString)) throw new UsageError('--reset-slot: a MySQL/MariaDB relay has no slot (its binlog position: --forget-position)');
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
