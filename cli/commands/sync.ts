import pino from 'pino';
import { Pool } from 'pg';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { DEFAULT_TOPIC_PREFIX, ensureTopics } from '../../outbox';
import { isMySqlUrl, loadMappingFile, selectAggregates, SyncConsumer, type MySqlDatabase, type SideName } from '../../sync';
import { integerOption, parseCommandArgs, UsageError, type Command } from '../command';
import { databaseUrl, kafkaBrokers } from '../environment';
import { boundPort, serveMetrics } from '../metrics-server';
import { DATABASE_OPTIONS, DATABASE_OPTIONS_HELP, legacyConnection, reachable } from './migration-args';

const help = `Usage: strangler sync <aggregate...|all> --into <legacy|service> --mapping <file> [options]

Keeps one side's tables current from the other side's changes, through the mapping (translated, version- and
conflict-checked), in the same transaction as its inbox rows, so a redelivered change is applied once. It never
writes an outbox event, which is what stops loops. Run one per side for two-way sync:

  strangler sync all --into service   applies the legacy monolith's changes to the service's tables
  strangler sync all --into legacy    applies the service's events to the legacy tables (so a rollback loses nothing)

Where the changes come from, per aggregate:
  - a versioned legacy side (an outbox): the other side's outbox events on <topic-prefix><aggregate>;
  - a captured legacy side (captured: true in the mapping; a table-capture relay or Debezium): --into service reads
    legacy's row changes on <capture.topicPrefix>.<schema>.<table> of the main and joined tables (<database>.<table>
    for a mysql:// legacy, as the binlog relay names them) and brings each named aggregate up to legacy's current
    document (read-through); --into legacy writes the service's outbox events into legacy's tables in transactions
    the capture tags with the service's origin (no echo). A MySQL/MariaDB legacy works for captured aggregates. Concurrent
    writes of both sides to one aggregate are settled by the owner and the losing write is recorded in
    strangler_sync_conflicts (see strangler conflicts).

Databases: a versioned mapping uses only the side it writes into (the inbox table is created there). A captured
legacy side needs both --legacy and --service in either direction: the inbox, the sync state
(strangler_sync_state) and the conflicts live in the service database; nothing is added to legacy. The mapping
is checked against the live schemas first, every problem at once. Events this side wrote (read back, or its
write-backs captured) and tombstones are skipped. Events that cannot be applied (unknown value, no version, a
dead-letter conflict) go to <topic>.dlq after --max-attempts.

Options:
  --into <legacy|service>  the side to write into (required)
${DATABASE_OPTIONS_HELP}
  --origin <name>          this side's origin name (default: the mapping's origins.<side>)
  --group-id <id>          Kafka consumer group (default strangler-sync-<origin>)
  --topic-prefix <prefix>  outbox topic prefix (default $OUTBOX_TOPIC_PREFIX or ${DEFAULT_TOPIC_PREFIX})
  --max-attempts <n>       attempts per event before the DLQ (default 5)
  --metrics-port <port>    serve GET /metrics on this port (default 9410; 0 picks a free port)
  --log-level <level>      pino level (default $LOG_LEVEL or info)
  -h, --help               this text

Environment: KAFKA_BROKERS (default 127.0.0.1:9092), and the database variables above.

Examples:
  npx strangler sync all --into service --mapping mapping.yaml --service postgres://app@db/catalog
  npx strangler sync book --into legacy --mapping mapping.yaml --legacy postgres://app@db/library --metrics-port 9411
  npx strangler sync all --into legacy --mapping captured.yaml --legacy postgres://app@db/shop --service postgres://app@db/catalog
  npx strangler sync all --into service --mapping captured.yaml --legacy mysql://sync@db/blog --service postgres://app@db/posts`;

function sideOption(text: string | undefined): SideName {
  if (text === 'legacy' || text === 'service') return text;
  if (text === undefined) throw new UsageError('--into <legacy|service> is required: the side whose tables the events are applied to');
  throw new UsageError(`--into must be legacy or service, got '${text}'`);
}

export const syncCommand: Command = {
  name: 'sync',
  summary: "apply the other side's changes (outbox events or captured tables) to one side's tables through the mapping (two-way sync)",
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...DATABASE_OPTIONS,
      into: { type: 'string' },
      origin: { type: 'string' },
      'group-id': { type: 'string' },
      'topic-prefix': { type: 'string', default: process.env.OUTBOX_TOPIC_PREFIX ?? DEFAULT_TOPIC_PREFIX },
      'max-attempts': { type: 'string', default: '5' },
      'metrics-port': { type: 'string', default: '9410' },
      'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
    });
    const side = sideOption(values.into);
    if (positionals.length === 0) throw new UsageError('name the aggregates to sync (as in the mapping), or all');
    const maxAttempts = integerOption('max-attempts', values['max-attempts'], { min: 1 });
    const metricsPort = integerOption('metrics-port', values['metrics-port'], { min: 0 });
    if (metricsPort > 65_535) throw new UsageError(`--metrics-port must be a port number, got '${metricsPort}'`);
    const file = values.mapping ?? process.env.STRANGLER_MAPPING;
    if (!file) throw new UsageError('--mapping <file> is required (or set STRANGLER_MAPPING)');

    const mapping = loadMappingFile(file);
    const aggregates = (() => {
      try {
        return selectAggregates(mapping, positionals);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    })();
    const captured = aggregates.filter((aggregate) => aggregate.legacy.captured).map((aggregate) => aggregate.aggregateType);
    const urls = {
      legacy: values.legacy ?? process.env.STRANGLER_LEGACY_URL ?? databaseUrl(process.env),
      service: values.service ?? process.env.STRANGLER_SERVICE_URL,
    };
    if (!urls.service && (side === 'service' || captured.length)) {
      throw new UsageError(
        side === 'service'
          ? '--service <url> is required with --into service (or set STRANGLER_SERVICE_URL)'
          : `--service <url> is required with --into legacy when the legacy side is captured (${captured.join(', ')}): the inbox and the sync state live in the service database (or set STRANGLER_SERVICE_URL)`,
      );
    }
    const needed = (['legacy', 'service'] as const).filter((name) => name === side || captured.length > 0);
    const origin = values.origin ?? mapping.origins[side];
    const groupId = values['group-id'] ?? `strangler-sync-${origin}`;
    const topicPrefix = values['topic-prefix'];

    const logger = pino({ level: values['log-level'] });
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'strangler_sync_process_' });
    if (urls.service && isMySqlUrl(urls.service)) throw new UsageError('--service takes a postgres:// URL: the inbox, the sync state and the service live in Postgres');
    if (isMySqlUrl(urls.legacy) && captured.length < aggregates.length) {
      const direct = aggregates.filter((aggregate) => !aggregate.legacy.captured).map((aggregate) => aggregate.aggregateType);
      throw new UsageError(`--legacy is a MySQL/MariaDB URL: only aggregates with a captured legacy side (captured: true) sync with it; ${direct.join(', ')} ${direct.length === 1 ? 'is' : 'are'} not captured`);
    }
    const pools: { legacy?: Pool | MySqlDatabase; service?: Pool } = {};
    if (needed.includes('legacy')) pools.legacy = legacyConnection(urls.legacy, 6);
    if (needed.includes('service')) pools.service = new Pool({ connectionString: urls.service!, max: 6 });
    let consumer: SyncConsumer | undefined;
    let server: Awaited<ReturnType<typeof serveMetrics>> | undefined;
    try {
      for (const name of needed) await reachable(pools[name]!, name, urls[name]!);
      const brokers = kafkaBrokers(process.env);
      consumer = new SyncConsumer(
        { mapping, into: side, aggregates, origin, pools, groupId, topicPrefix, kafka: { brokers, clientId: groupId }, maxAttempts, fromBeginning: true, migrate: true },
        { logger, registry },
      );
      await consumer.open();
      const created = await ensureTopics({ brokers, clientId: groupId }, consumer.topics);
      if (created.length) logger.info({ topics: created }, 'created the topics that did not exist yet');
      server = await serveMetrics(registry, metricsPort);
      await consumer.start();
      logger.info({ side, origin, groupId, aggregates: aggregates.map((aggregate) => aggregate.aggregateType), captured, metricsPort: boundPort(server, metricsPort) }, 'sync consuming');
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      logger.info({ signal }, 'stopping sync');
      return 0;
    } finally {
      await consumer?.stop();
      await Promise.all(Object.values(pools).map((pool) => pool.end()));
      if (server) await new Promise((resolve) => server!.close(resolve));
    }
  },
};
