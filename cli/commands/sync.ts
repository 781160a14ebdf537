import pino from 'pino';
import { Pool } from 'pg';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { DEFAULT_TOPIC_PREFIX, ensureTopics, InboxConsumer, migrateOutbox } from '../../outbox';
import { loadMappingFile, MappingApplier, selectAggregates, type SideName } from '../../sync';
import { integerOption, parseCommandArgs, UsageError, type Command } from '../command';
import { databaseUrl, kafkaBrokers } from '../environment';
import { boundPort, serveMetrics } from '../metrics-server';
import { DATABASE_OPTIONS, DATABASE_OPTIONS_HELP, reachable } from './migration-args';

const help = `Usage: strangler sync <aggregate...|all> --into <legacy|service> --mapping <file> [options]

Keeps one side's tables current from the other side's outbox events: a consumer group on the topics
<topic-prefix><aggregate> whose handler applies each event through the mapping (translated, version- and
conflict-checked) in the same transaction as its inbox row, so a redelivered event is applied once. It never
writes an outbox event, which is what stops loops. Run one per side for two-way sync:

  strangler sync all --into service   applies the legacy monolith's events to the service's tables
  strangler sync all --into legacy    applies the service's events to the legacy tables (so a rollback loses nothing)

Only the database of the side it writes into is used; the inbox table is created there when missing. The
mapping is checked against that live schema first, every problem at once. Events that cannot be applied
(unknown value, no version, a dead-letter conflict) go to <topic>.dlq after --max-attempts.

Options:
  --into <legacy|service>  the side to write into (required)
${DATABASE_OPTIONS_HELP}
  --origin <name>          this side's origin name (default: the mapping's origins.<side>)
  --group-id <id>          Kafka consumer group (default strangler-sync-<origin>)
  --topic-prefix <prefix>  topic prefix (default $OUTBOX_TOPIC_PREFIX or ${DEFAULT_TOPIC_PREFIX})
  --max-attempts <n>       attempts per event before the DLQ (default 5)
  --metrics-port <port>    serve GET /metrics on this port (default 9410; 0 picks a free port)
  --log-level <level>      pino level (default $LOG_LEVEL or info)
  -h, --help               this text

Environment: KAFKA_BROKERS (default 127.0.0.1:9092), and the database variables above.

Examples:
  npx strangler sync all --into service --mapping mapping.yaml --service postgres://app@db/catalog
  npx strangler sync book --into legacy --mapping mapping.yaml --legacy postgres://app@db/library --metrics-port 9411`;

function sideOption(text: string | undefined): SideName {
  if (text === 'legacy' || text === 'service') return text;
  if (text === undefined) throw new UsageError('--into <legacy|service> is required: the side whose tables the events are applied to');
  throw new UsageError(`--into must be legacy or service, got '${text}'`);
}

export const syncCommand: Command = {
  name: 'sync',
  summary: "apply the other side's outbox events to one side's tables through the mapping (two-way sync)",
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
    const url = side === 'legacy' ? (values.legacy ?? process.env.STRANGLER_LEGACY_URL ?? databaseUrl(process.env)) : (values.service ?? process.env.STRANGLER_SERVICE_URL);
    if (!url) throw new UsageError('--service <url> is required with --into service (or set STRANGLER_SERVICE_URL)');

    const mapping = loadMappingFile(file);
    const aggregates = (() => {
      try {
        return selectAggregates(mapping, positionals);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    })();
    const origin = values.origin ?? mapping.origins[side];
    const groupId = values['group-id'] ?? `strangler-sync-${origin}`;
    const topicPrefix = values['topic-prefix'];

    const logger = pino({ level: values['log-level'] });
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'strangler_sync_process_' });
    const pool = new Pool({ connectionString: url, max: 4 });
    let inbox: InboxConsumer | undefined;
    let server: Awaited<ReturnType<typeof serveMetrics>> | undefined;
    try {
      await reachable(pool, side, url);
      const applier = await MappingApplier.open(mapping, side, pool, { origin, aggregates });
      await migrateOutbox(pool);
      const topics = applier.aggregateTypes.map((aggregateType) => `${topicPrefix}${aggregateType}`);
      const brokers = kafkaBrokers(process.env);
      const created = await ensureTopics({ brokers, clientId: groupId }, topics);
      if (created.length) logger.info({ topics: created }, 'created the topics that did not exist yet');
      inbox = new InboxConsumer(
        {
          name: `${origin}-sync`,
          groupId,
          topics,
          topicPrefix,
          pool,
          kafka: { brokers, clientId: groupId },
          maxAttempts,
          fromBeginning: true,
        },
        {
          logger,
          registry,
          handler: async (event, client) => {
            const outcome = await applier.apply(client, event);
            return outcome === 'applied' ? undefined : outcome;
          },
        },
      );
      server = await serveMetrics(registry, metricsPort);
      await inbox.start();
      logger.info({ side, origin, groupId, aggregates: applier.aggregateTypes, metricsPort: boundPort(server, metricsPort) }, 'sync consuming');
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      logger.info({ signal }, 'stopping sync');
      return 0;
    } finally {
      await inbox?.stop();
      await pool.end();
      if (server) await new Promise((resolve) => server!.close(resolve));
    }
  },
};
