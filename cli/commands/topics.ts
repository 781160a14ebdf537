import { DEFAULT_TOPIC_PREFIX, describeTopics, ensureAndDescribeTopics, layoutDifferences, parseRelayOptions, type TopicDescription, type TopicLayout } from '../../outbox';
import { integerOption, parseCommandArgs, UsageError, type Command } from '../command';
import { kafkaBrokers } from '../environment';
import { readConfigFile, relayInput } from './relay';

const help = `Usage: strangler topics <ensure|check> <aggregate...> [options]

Lays out the relay's Kafka topics (<topic-prefix><aggregate>) before the first event, instead of leaving them to
the broker's defaults: the partition count fixes how keys spread over consumers (and cannot be changed later
without moving keys, hence breaking per-aggregate order), the replication factor and min.insync.replicas fix
how many broker losses an acknowledged event survives.

  ensure   creates the topics that do not exist yet with the declared layout, then compares every topic with it
  check    compares only; a missing topic counts as a difference

Prints one line per topic (created, ok, or what differs) and exits 1 when any topic differs from the declared
layout: an existing topic is never altered. The relay holds its topics to the same declaration (relay option
'topics'): it creates missing ones with it and refuses to publish to a topic whose partition count differs.

The layout comes from, in increasing priority: the relay configuration's 'topics' and 'topicPrefix' (--config,
the file 'strangler relay --config' reads), then the options below.

Options:
  --config <file>              relay configuration (YAML or JSON) to read 'topics' and 'topicPrefix' from
  --partitions <n>             partitions per topic (required unless the configuration declares them)
  --replication-factor <n>     replicas per partition (default 1)
  --min-insync-replicas <n>    the topics' min.insync.replicas (default: the broker's; at most the replication factor)
  --topic-prefix <prefix>      topic prefix (default $OUTBOX_TOPIC_PREFIX or ${DEFAULT_TOPIC_PREFIX})
  --topic <name>               a topic by its full name as well, such as outbox.dlq (repeatable)
  -h, --help                   this text

Environment: KAFKA_BROKERS (default 127.0.0.1:9092).

Examples:
  npx strangler topics ensure Order Payment --partitions 6 --replication-factor 3 --min-insync-replicas 2
  npx strangler topics check Order --config relay.yaml`;

function describeLine(topic: string, description: TopicDescription | undefined, created: boolean, layout: TopicLayout): { line: string; differs: boolean } {
  if (!description) return { line: `${topic}  missing`, differs: true };
  const shape = `partitions ${description.partitions}, replication factor ${description.replicationFactor}, min.insync.replicas ${description.minInsyncReplicas ?? 'unknown'}`;
  const differences = layoutDifferences(description, layout);
  if (differences.length) return { line: `${topic}  DIFFERS: ${differences.join('; ')}`, differs: true };
  return { line: `${topic}  ${created ? 'created' : 'ok'} (${shape})`, differs: false };
}

export const topicsCommand: Command = {
  name: 'topics',
  summary: "create the relay's Kafka topics with declared partitions, replication and min.insync.replicas, or check them",
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      config: { type: 'string' },
      partitions: { type: 'string' },
      'replication-factor': { type: 'string' },
      'min-insync-replicas': { type: 'string' },
      'topic-prefix': { type: 'string' },
      topic: { type: 'string', multiple: true, default: [] },
    });
    const [action, ...aggregates] = positionals;
    if (action !== 'ensure' && action !== 'check') throw new UsageError(action === undefined ? 'name an action: ensure or check' : `unknown action '${action}' (ensure or check)`);
    const problems: string[] = [];
    const attempt = <T>(read: () => T): T | undefined => {
      try {
        return read();
      } catch (error) {
        problems.push((error as Error).message);
        return undefined;
      }
    };
    const configured = values.config
      ? attempt(() => {
          try {
            return parseRelayOptions(relayInput(process.env, readConfigFile(values.config!), {}));
          } catch (error) {
            const issues = (error as { issues?: { path: string; message: string }[] }).issues;
            if (!issues) throw error;
            throw new Error(`--config ${values.config}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`);
          }
        })
      : undefined;
    const optional = (flag: string, text: string | undefined) => (text === undefined ? undefined : attempt(() => integerOption(flag, text, { min: 1 })));
    const layout = {
      partitions: optional('partitions', values.partitions) ?? configured?.topics?.partitions,
      replicationFactor: optional('replication-factor', values['replication-factor']) ?? configured?.topics?.replicationFactor ?? 1,
      minInsyncReplicas: optional('min-insync-replicas', values['min-insync-replicas']) ?? configured?.topics?.minInsyncReplicas,
    };
    if (layout.partitions === undefined && !problems.length) problems.push('--partitions <n> is required (or a --config whose relay options declare topics.partitions)');
    if (layout.minInsyncReplicas !== undefined && layout.minInsyncReplicas > layout.replicationFactor) {
      problems.push(`--min-insync-replicas ${layout.minInsyncReplicas} exceeds the replication factor ${layout.replicationFactor}: no write could ever be acknowledged`);
    }
    const prefix = values['topic-prefix'] ?? configured?.topicPrefix ?? process.env.OUTBOX_TOPIC_PREFIX ?? DEFAULT_TOPIC_PREFIX;
    const topics = [...aggregates.map((aggregate) => `${prefix}${aggregate}`), ...values.topic];
    if (topics.length === 0) problems.push('name the aggregates whose topics to lay out (or --topic <name>)');
    if (problems.length) throw new UsageError(problems.join('\n'));
    const declared = layout as TopicLayout;

    const kafka = { brokers: configured?.kafka.brokers ?? kafkaBrokers(process.env), clientId: 'strangler-topics' };
    const { created, topics: described } =
      action === 'ensure' ? await ensureAndDescribeTopics(kafka, topics, declared) : { created: [] as string[], topics: await describeTopics(kafka, topics) };
    let differing = 0;
    for (const topic of topics) {
      const { line, differs } = describeLine(topic, described.get(topic), created.includes(topic), declared);
      if (differs) differing += 1;
      console.log(line);
    }
    if (differing) console.error(`strangler topics: ${differing} of ${topics.length} topics differ from the declared layout; existing topics are never altered`);
    return differing ? 1 : 0;
  },
};
