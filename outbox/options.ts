import { Pool } from 'pg';
import { z } from 'zod';
import { captureSchema, notForTables, type CaptureOptions } from './capture/options';
import { InvalidOptionsError, type OptionIssue } from './errors';
import { IDENTIFIER_PATTERN } from './sql';
import { DEFAULT_TOPIC_PREFIX } from './topics';

const identifier = z.string().regex(IDENTIFIER_PATTERN, 'must be a plain SQL identifier ([A-Za-z_][A-Za-z0-9_$]*, at most 63)');
const positiveMs = z.number().int().positive();

const kafkaSchema = z.strictObject({
  brokers: z.array(z.string().min(1)).min(1, 'needs at least one broker (host:port)'),
  clientId: z.string().min(1).default('strangler-outbox-relay'),
  /** Records larger than this never reach Kafka; they follow `onUnpublishable`. Match the broker's message.max.bytes. */
  maxRecordBytes: z.number().int().positive().default(1_000_000),
  connectionTimeoutMs: positiveMs.default(3_000),
  requestTimeoutMs: positiveMs.default(30_000),
  /** How old the producer's topic metadata may get: the longest a changed partition count goes unnoticed. */
  metadataMaxAgeMs: positiveMs.default(30_000),
});

const relaySchema = z
  .strictObject({
    /**
     * The `relay` label of every metric, and part of default slot, publication and lock names (and of the topic
     * prefix in mode tables). Default `outbox`, or `capture` in mode tables.
     */
    name: z.string().regex(/^[a-z0-9_]{1,40}$/, 'must be 1-40 of [a-z0-9_]').optional(),
    /** cdc and polling publish an outbox table; tables captures the row changes of tables (`capture`). */
    mode: z.enum(['cdc', 'polling', 'tables']).default('cdc'),
    /** postgres://...; in mode tables also mysql://... (MySQL or MariaDB, captured from the binlog). */
    connectionString: z.string().min(1, 'is required (postgres://...)'),
    schema: identifier.default('public'),
    table: identifier.default('outbox'),
    /** Run the outbox migrations on start (only for the default table name `outbox`). */
    migrate: z.boolean().default(true),
    slotName: identifier.optional(),
    publicationName: identifier.optional(),
    topicPrefix: z.string().regex(/^[a-zA-Z0-9._-]*$/, "may only contain letters, digits, '.', '_', '-'").default(DEFAULT_TOPIC_PREFIX),
    kafka: kafkaSchema,
    /**
     * The declared layout of the relay's topics. With it, the relay creates a missing topic with these settings and
     * refuses to publish to one whose partition count differs; without it, topics are auto-created with the broker's
     * defaults. A count that changes while the relay runs is refused either way.
     */
    topics: z
      .strictObject({
        partitions: z.number().int().min(1).max(10_000),
        replicationFactor: z.number().int().min(1).max(32).default(1),
        minInsyncReplicas: z.number().int().min(1).max(32).optional(),
      })
      .refine((topics) => topics.minInsyncReplicas === undefined || topics.minInsyncReplicas <= topics.replicationFactor, {
        path: ['minInsyncReplicas'],
        message: 'must not exceed replicationFactor (no write could ever be acknowledged)',
      })
      .optional(),
    /**
     * How the `headers` column becomes Kafka headers. `entries`: one header per entry (what most consumers want).
     * `json`: one header `headers` holding the column's JSON, as Debezium's EventRouter places it. `both`: the two.
     * The inbox consumer reads either.
     */
    headerPlacement: z.enum(['entries', 'json', 'both']).default('entries'),
    /** CDC: how often an idle relay confirms the server's WAL position and refreshes slot metrics. */
    heartbeatIntervalMs: positiveMs.default(5_000),
    batch: z
      .strictObject({
        /**
         * Most records in one producer send (which also stays under 80% of kafka.maxRecordBytes); whatever arrives while
         * a send is in flight is batched for the next.
         */
        maxEvents: z.number().int().positive().default(5_000),
        /** CDC pauses the replication stream while this many events wait for Kafka. */
        maxPendingEvents: z.number().int().positive().default(50_000),
      })
      .prefault({}),
    onUnpublishable: z.enum(['dlq', 'skip', 'stop']).default('dlq'),
    dlqTopic: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a legal Kafka topic name').default('outbox.dlq'),
    polling: z
      .strictObject({
        /** Fallback poll period when no NOTIFY arrives. */
        intervalMs: positiveMs.default(1_000),
        batchSize: z.number().int().positive().default(5_000),
      })
      .prefault({}),
    leadership: z
      .strictObject({
        /** Advisory lock key; relays with the same key form one leader + standbys. Default `strangler-relay:<schema>.<table>:<mode>`. */
        lockKey: z.string().min(1).optional(),
        retryIntervalMs: positiveMs.default(1_000),
      })
      .prefault({}),
    /** Backoff between retries of a failed Kafka send or a lost database connection. */
    retryBackoffMs: z
      .strictObject({ initial: positiveMs.default(100), max: positiveMs.default(5_000) })
      .prefault({}),
    /** stop() waits this long for in-flight sends before giving up on them (they are re-sent after restart). */
    stopTimeoutMs: positiveMs.default(30_000),
    /** Mode tables: which tables, and how their changes become Debezium's records (outbox/capture/options.ts). */
    capture: captureSchema.optional(),
  });

export type RelayOptionsInput = z.input<typeof relaySchema>;
export type ParsedRelayOptions = z.output<typeof relaySchema>;
/** Parsed options with every default and derived name filled in. */
export interface RelayOptions extends Omit<ParsedRelayOptions, 'capture'> {
  name: string;
  /** Set in mode tables (and only there), with topicPrefix filled in. */
  capture?: CaptureOptions;
  slotName: string;
  publicationName: string;
  leadership: ParsedRelayOptions['leadership'] & { lockKey: string };
}

/** One issue per problem, each at its full path; an unknown key is named in its path (`kafka.maxRecordByte`). */
export function issuesOf(error: z.ZodError, prefix = ''): OptionIssue[] {
  const pathOf = (segments: PropertyKey[]) => [prefix, ...segments.map(String)].filter(Boolean).join('.') || '(root)';
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: pathOf([...issue.path, key]), message: 'unknown option' }))
      : [{ path: pathOf(issue.path), message: issue.message }],
  );
}

/** Validates relay options, reporting every problem at once with its path, and fills in defaults. */
export function parseRelayOptions(input: unknown): RelayOptions {
  const result = relaySchema.safeParse(input);
  const issues = result.success ? [] : issuesOf(result.error);
  const raw = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const mode = result.success ? result.data.mode : raw.mode;
  const name = result.data?.name ?? (mode === 'tables' ? 'capture' : 'outbox');
  if (mode === 'tables') {
    if (raw.capture === undefined) issues.push({ path: 'capture', message: 'is required in mode tables (at least capture.tables)' });
    issues.push(...notForTables(raw, result.data?.capture?.topicPrefix ?? name));
  } else if (raw.capture !== undefined) {
    issues.push({ path: 'capture', message: "only applies to mode 'tables'" });
  }
  if (!result.success || issues.length > 0) throw new InvalidOptionsError(issues);
  const { capture, ...options } = result.data;
  const slotName = options.slotName ?? `strangler_${name}`;
  if (capture) {
    const topicPrefix = capture.topicPrefix ?? name;
    return {
      ...options,
      name,
      migrate: false,
      topicPrefix: `${topicPrefix}.`,
      dlqTopic: raw.dlqTopic === undefined ? `${topicPrefix}.dlq` : options.dlqTopic,
      capture: { ...capture, topicPrefix },
      slotName,
      publicationName: options.publicationName ?? `strangler_${name}`,
      leadership: { ...options.leadership, lockKey: options.leadership.lockKey ?? `strangler-relay:tables:${slotName}` },
    };
  }
  return {
    ...options,
    name,
    slotName,
    publicationName: options.publicationName ?? `strangler_${name}`,
    leadership: {
      ...options.leadership,
      lockKey: options.leadership.lockKey ?? `strangler-relay:${options.schema}.${options.table}:${options.mode}`,
    },
  };
}

const inboxSchema = z
  .strictObject({
    /** The `consumer` column of the inbox table and the `consumer` metric label. */
    name: z.string().min(1).max(255),
    groupId: z.string().min(1),
    topics: z.array(z.union([z.string().min(1), z.instanceof(RegExp)])).min(1, 'needs at least one topic or pattern'),
    /** Where the inbox table and the handler's writes live: a connection string, or a pool of yours (not closed by stop). */
    connectionString: z.string().min(1).optional(),
    pool: z.custom<Pool>((value) => value instanceof Pool, 'must be a pg.Pool').optional(),
    schema: identifier.default('public'),
    kafka: kafkaSchema.omit({ clientId: true, metadataMaxAgeMs: true }).extend({
      clientId: z.string().min(1).default('strangler-inbox'),
      /**
       * How long the group waits for a silent member (a crashed process) before its partitions move to the others;
       * the broker accepts 6 s to 5 min by default (group.min/max.session.timeout.ms).
       */
      sessionTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
    }),
    /** Attempts per event (the first try included) before it goes to the DLQ. */
    maxAttempts: z.number().int().positive().default(5),
    /** First retry delay; doubles per attempt. */
    retryBackoffMs: positiveMs.default(200),
    dlqTopicSuffix: z.string().regex(/^[a-zA-Z0-9._-]+$/).default('.dlq'),
    /** Stripped from the topic to name the aggregate type of an event. */
    topicPrefix: z.string().default(DEFAULT_TOPIC_PREFIX),
    fromBeginning: z.boolean().default(true),
    /**
     * Events of one partition applied in one transaction (one commit, one round of inbox inserts). A batch whose
     * handler fails is rolled back and its events applied one by one, with the retries and DLQ of a single event.
     */
    maxBatchEvents: z.number().int().min(1).max(10_000).default(500),
    /** Partitions worked on at once (each in its own transaction, in order within a partition); needs that many pool connections. */
    partitionsConsumedConcurrently: z.number().int().min(1).max(64).default(4),
    /**
     * Topics whose events are applied without a claim in the inbox table (default none: every event is claimed, in
     * the transaction that applies it, so a redelivery is skipped). Only for handlers that make a redelivery harmless
     * by themselves (the sync's captured row changes, read-through: a redelivered change finds the service already
     * up to date): no inbox row is written, no NOTIFY is sent, and AppliedEvents cannot see these events.
     */
    unclaimedTopics: z.array(z.string().min(1)).default([]),
    /**
     * Topics whose batches are applied together across partitions (default none: each partition's chunks in
     * transactions of their own). What the consumer fetched of these topics, from every partition, is gathered
     * into chunks of up to maxBatchEvents, each in one transaction (each partition's events in offset order, so one
     * key's events stay in order), and the consumer fetches the next records while a chunk is applied; offsets are
     * committed only after the chunk that holds them. For handlers that gain from seeing one aggregate's changes of
     * several partitions at once (the sync's captured tables: one order's lines land on every partition).
     */
    coalescedTopics: z.array(z.string().min(1)).default([]),
    /**
     * Each transaction that applies events also sends a NOTIFY on this channel (delivered at commit), which wakes
     * AppliedEvents waits (the proxy's read-your-writes) at once; false sends none.
     */
    notifyChannel: z.union([identifier, z.literal(false)]).default('strangler_inbox'),
  })
  .refine((options) => options.connectionString !== undefined || options.pool !== undefined, {
    path: ['connectionString'],
    message: 'pass connectionString or pool',
  });

export type InboxOptionsInput = z.input<typeof inboxSchema>;
export type InboxOptions = z.output<typeof inboxSchema>;

export function parseInboxOptions(input: unknown): InboxOptions {
  const result = inboxSchema.safeParse(input);
  if (!result.success) throw new InvalidOptionsError(issuesOf(result.error));
  return result.data;
}
