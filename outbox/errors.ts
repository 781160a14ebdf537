import { StranglerError, type ErrorCatalogue, type ErrorCatalogueOf } from '../errors';

const CODES = {
  SFG_OUTBOX_INVALID_EVENT: {
    means: 'An event the writer refuses before writing (a missing or malformed field), or a Kafka record the inbox cannot read (no uuid id header, a value that is not JSON).',
    fix: 'Correct the named field at the producer; a refused record goes to the DLQ, replay it once fixed.',
  },
  SFG_OUTBOX_INVALID_OPTIONS: {
    means: 'Relay or inbox options (or dependencies) do not validate; the message lists every problem with its path.',
    fix: 'Correct each listed option (see docs/outbox.md).',
  },
  SFG_OUTBOX_INVALID_IDENTIFIER: {
    means: 'A table or schema name is not a plain SQL identifier.',
    fix: 'Use a name of letters, digits, _ and $ (at most 63 characters) that does not start with a digit.',
  },
  SFG_OUTBOX_INVALID_WRITTEN: {
    means: 'The applied-events endpoint got a malformed list of written events or waitMs (400).',
    fix: 'Send <aggregatetype>:<event uuid>[@<origin>] entries within the limits the message gives.',
  },
  SFG_OUTBOX_APPLIED_UNKNOWN: {
    means: 'The applied-events endpoint could not tell whether the events were applied (its database failed, 503).',
    fix: 'Retry; check the consumer\'s database.',
  },
  SFG_OUTBOX_NOT_FOUND: {
    means: 'No applied-events endpoint at that method and path (404).',
    fix: 'Check the URL.',
  },
  SFG_OUTBOX_SLOT_LOST: {
    means: 'The replication slot has wal_status lost: Postgres removed WAL it needed, so events may be missing.',
    fix: 'Reconcile the consumers (strangler verify / backfill), run `strangler relay --reset-slot`, then start the relay (docs/outbox.md, "Lost slot").',
  },
  SFG_OUTBOX_SLOT_MISSING: {
    means: 'The slot this relay created before no longer exists; recreating it silently would skip events.',
    fix: 'Reconcile the consumers, then run `strangler relay --reset-slot` (docs/outbox.md, "Lost slot").',
  },
  SFG_OUTBOX_SLOT_ACTIVE: {
    means: 'A slot reset was refused: a running relay uses the slot.',
    fix: 'Stop every relay instance, then reset.',
  },
  SFG_OUTBOX_SLOT_HEALTHY: {
    means: 'A slot reset was refused: the slot is healthy, and resetting it would skip events.',
    fix: 'Nothing to reset; start the relay.',
  },
  SFG_OUTBOX_SLOT_IN_OTHER_DATABASE: {
    means: 'The named replication slot belongs to another database.',
    fix: 'Give each database\'s relay its own slot name, or connect to the slot\'s database.',
  },
  SFG_OUTBOX_SLOT_PLUGIN: {
    means: 'The replication slot uses another output plugin than pgoutput.',
    fix: 'Give the relay its own slot name; it creates a pgoutput slot.',
  },
  SFG_OUTBOX_STREAM_ENDED: {
    means: 'The replication stream ended (the server closed it).',
    fix: 'None: the relay reconnects and resumes from its confirmed position; retriable.',
  },
  SFG_OUTBOX_LEADER_CONNECTION_LOST: {
    means: 'The connection that holds the relay\'s leadership lock closed.',
    fix: 'None: the relay steps down and campaigns again; check the database if it repeats.',
  },
  SFG_OUTBOX_ABORTED: {
    means: 'In-flight sends were abandoned because the stop timeout passed.',
    fix: 'None: unacknowledged events are sent again by the next relay (at-least-once); raise the stop timeout if it happens on every stop.',
  },
  SFG_OUTBOX_PUBLISH_FAILED: {
    means: 'Publishing to Kafka failed (broker down, leader moving, topic creation failed); the Kafka error type is in the message.',
    fix: 'Check the brokers; the relay retries with backoff when the failure is retriable.',
  },
  SFG_OUTBOX_TOPIC_PARTITIONS_CHANGED: {
    means: 'A topic has another partition count than declared (or first seen): keys would move partitions and lose their order, so nothing is sent.',
    fix: 'Restore the topic, or declare the new count (topics.partitions) once the consumers have caught up (docs/outbox.md, "Topics").',
  },
  SFG_OUTBOX_TOPIC_LEADERS_TIMEOUT: {
    means: 'Topics were created but the broker reported no leader for each partition in time.',
    fix: 'Check the broker\'s health; retriable.',
  },
  SFG_OUTBOX_ILLEGAL_TOPIC: {
    means: 'An event\'s aggregate type makes a topic name Kafka refuses; the event is unpublishable.',
    fix: 'Use aggregate types of letters, digits, ., _ and -; the event goes where onUnpublishable says (stop, skip or the DLQ).',
  },
  SFG_OUTBOX_RECORD_TOO_LARGE: {
    means: 'An event is larger than kafka.maxRecordBytes; the event is unpublishable.',
    fix: 'Make the payload smaller, or raise kafka.maxRecordBytes together with the broker\'s and topic\'s limits.',
  },
  SFG_OUTBOX_MESSAGE_TOO_LARGE: {
    means: 'Kafka refused a record as too large (MESSAGE_TOO_LARGE); the event is unpublishable.',
    fix: 'Raise the topic\'s max.message.bytes, or make the payload smaller; replay it from the DLQ.',
  },
  SFG_OUTBOX_REJECTED: {
    means: 'Kafka refused a record for good for another reason (its error type is in the message and kafkaType); the event is unpublishable.',
    fix: 'Read the Kafka error type (e.g. an authorisation or invalid record error), fix the cause, replay the event from the DLQ.',
  },
  SFG_OUTBOX_HANDLER_OUTCOMES: {
    means: 'An inbox batchHandler returned another number of outcomes than the events it was given.',
    fix: 'Return one outcome per event, in order.',
  },
  SFG_CAPTURE_OPTIONS: {
    means: 'Table-capture options are missing or incomplete (no mode tables or capture block, a table without its database).',
    fix: 'Build the options with parseRelayOptions; write MySQL tables as db.table or name the database in the URL.',
  },
  SFG_CAPTURE_PREFLIGHT: {
    means: 'The database cannot be captured as configured; several problems, each listed with its own code.',
    fix: 'Fix each listed problem (docs/capture.md), then start the relay again.',
  },
  SFG_CAPTURE_WAL_LEVEL: {
    means: 'Postgres runs with wal_level below logical.',
    fix: 'Set wal_level = logical in postgresql.conf and restart Postgres.',
  },
  SFG_CAPTURE_PRIVILEGE: {
    means: 'The relay\'s role lacks a privilege capture needs (replication, SELECT on a table, or publication ownership; REPLICATION CLIENT/SLAVE on MySQL).',
    fix: 'Grant what the message names, or connect as a role that has it.',
  },
  SFG_CAPTURE_NO_FREE_SLOT: {
    means: 'Postgres has no free replication slot (max_replication_slots is used up).',
    fix: 'Drop an unused slot or raise max_replication_slots and restart.',
  },
  SFG_CAPTURE_TABLE_MISSING: {
    means: 'A table named for capture does not exist (names are case-sensitive).',
    fix: 'Check capture.tables / --tables, and that the role can see the schema.',
  },
  SFG_CAPTURE_NOT_A_TABLE: {
    means: 'A name given for capture is not a table (a view, for example): only tables can be captured.',
    fix: 'Name the tables themselves.',
  },
  SFG_CAPTURE_NO_PRIMARY_KEY: {
    means: 'A captured table has no primary key, so its records would have no key.',
    fix: 'Add a primary key (ALTER TABLE … ADD PRIMARY KEY), or leave the table out of the capture.',
  },
  SFG_CAPTURE_REPLICA_IDENTITY: {
    means: 'A captured table has REPLICA IDENTITY NOTHING, or an identity index without its primary key: updates or deletes would fail or lose their key.',
    fix: 'Run the ALTER TABLE … REPLICA IDENTITY DEFAULT (or FULL) the message gives.',
  },
  SFG_CAPTURE_PUBLICATION: {
    means: 'The publication is missing a table, filters its rows, or leaves key columns out.',
    fix: 'Have the publication\'s owner run the ALTER PUBLICATION the message gives, or let the relay create its own.',
  },
  SFG_CAPTURE_BINLOG_OFF: {
    means: 'The MySQL/MariaDB server has no binary log.',
    fix: 'Add log_bin, binlog_format=ROW, binlog_row_image=FULL and a server_id to the server\'s option file, then restart it.',
  },
  SFG_CAPTURE_BINLOG_FORMAT: {
    means: 'binlog_format is not ROW.',
    fix: 'Set binlog_format = ROW and restart the server.',
  },
  SFG_CAPTURE_BINLOG_ROW_IMAGE: {
    means: 'binlog_row_image is not FULL.',
    fix: 'Set binlog_row_image = FULL and restart the server.',
  },
  SFG_CAPTURE_BINLOG_COMPRESSION: {
    means: 'binlog_transaction_compression is ON: the binlog reader cannot decode compressed transactions.',
    fix: 'Run SET GLOBAL binlog_transaction_compression = OFF (and set it in the option file).',
  },
  SFG_CAPTURE_PARTIAL_JSON: {
    means: 'binlog_row_value_options is PARTIAL_JSON: the binlog reader cannot decode partial JSON updates.',
    fix: "Run SET GLOBAL binlog_row_value_options = ''.",
  },
  SFG_CAPTURE_ANNOTATE_OFF: {
    means: 'binlog_annotate_row_events is OFF: write-backs marked with a comment are not recognised and echo, unless their session turns it on.',
    fix: 'Run SET GLOBAL binlog_annotate_row_events = ON (and set it in the option file).',
  },
  SFG_CAPTURE_BINLOG_READ: {
    means: 'The server refused the binlog stream (often a replica server id already in use).',
    fix: 'Give capture.serverId a value unique among the server\'s replicas.',
  },
  SFG_CAPTURE_BINLOG_PURGED: {
    means: 'The binlog file the relay must resume from was purged: changes may be missing.',
    fix: 'Reconcile the consumers (strangler verify / backfill), run `strangler relay --mode tables --forget-position`, then start the relay again.',
  },
  SFG_CAPTURE_BINLOG_STREAM: {
    means: 'The binlog stream failed (connection lost).',
    fix: 'None: the relay resumes from its confirmed position; check the server if it repeats.',
  },
  SFG_CAPTURE_UNDECODABLE: {
    means: 'A binlog event could not be decoded.',
    fix: 'Report it with the message; check the server\'s version and binlog settings.',
  },
  SFG_CAPTURE_POSITION_OTHER_SERVER: {
    means: 'The stored binlog position belongs to another server than the one connected.',
    fix: 'Point the relay at its server, or run `strangler relay --mode tables --forget-position` to start at the end of this server\'s binlog.',
  },
  SFG_CAPTURE_ORIGIN_INVALID: {
    means: 'An origin cannot mark a MySQL statement: it must be 1-100 of A-Z a-z 0-9 _ . : -.',
    fix: 'Rename the origin (the mapping\'s origins) to fit.',
  },
  SFG_CAPTURE_ORIGIN_SESSION: {
    means: 'The writer\'s MySQL session cannot turn on the binlog setting its origin marks need.',
    fix: 'Run the SET GLOBAL the message gives (and set it in the option file), or grant the writer the privilege.',
  },
} as const satisfies ErrorCatalogue;

/** One of the codes of OUTBOX_ERROR_CODES (listed in docs/errors.md); a throw with another code fails the typecheck. */
export type OutboxErrorCode = keyof typeof CODES;

/** Every outbox error code (SFG_OUTBOX_ for the outbox, relays and inbox, SFG_CAPTURE_ for table capture): what it means and what to do. */
export const OUTBOX_ERROR_CODES: ErrorCatalogueOf<OutboxErrorCode> = CODES;

/** Every outbox error carries a stable `code`, whether retrying can help, and the underlying cause. */
export class OutboxError extends StranglerError<OutboxErrorCode> {
  declare readonly code: OutboxErrorCode;

  constructor(code: OutboxErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** The code of a record Kafka refused for good, from its Kafka error type: SFG_OUTBOX_MESSAGE_TOO_LARGE, else SFG_OUTBOX_REJECTED. */
export function unpublishableCode(kafkaType: string | undefined): OutboxErrorCode {
  return kafkaType === 'MESSAGE_TOO_LARGE' ? 'SFG_OUTBOX_MESSAGE_TOO_LARGE' : 'SFG_OUTBOX_REJECTED';
}

/** An event the writer refuses before anything is written; `field` names the offending property. */
export class InvalidEventError extends OutboxError {
  override readonly name = 'InvalidEventError';
  constructor(
    readonly field: string,
    message: string,
    readonly index?: number,
  ) {
    super('SFG_OUTBOX_INVALID_EVENT', index === undefined ? `${field}: ${message}` : `events[${index}].${field}: ${message}`);
  }
}

export interface OptionIssue {
  path: string;
  message: string;
}

/** Relay or inbox configuration that does not parse; lists every problem with its path. */
export class InvalidOptionsError extends OutboxError {
  override readonly name = 'InvalidOptionsError';
  constructor(readonly issues: OptionIssue[]) {
    super('SFG_OUTBOX_INVALID_OPTIONS', `invalid outbox options: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`);
  }
}

/** The replication slot exists but Postgres already removed WAL it needs: events were lost. */
export class SlotLostError extends OutboxError {
  override readonly name = 'SlotLostError';
  /** `resetCommand`: the command that resets this relay's slot (the table-capture relay names its mode). */
  constructor(slotName: string, resetCommand = 'strangler relay --reset-slot') {
    super(
      'SFG_OUTBOX_SLOT_LOST',
      `replication slot "${slotName}" has wal_status 'lost': WAL it needed was removed and events may be missing. ` +
        `Recovery: reconcile the consumers (e.g. \`strangler verify\`/backfill), run \`${resetCommand}\` ` +
        '(resetReplicationSlot), then start the relay again (docs/outbox.md, "Lost slot").',
    );
  }
}

/** The slot this relay created earlier disappeared; recreating it would silently skip events. */
export class SlotMissingError extends OutboxError {
  override readonly name = 'SlotMissingError';
  constructor(slotName: string, resetCommand = 'strangler relay --reset-slot') {
    super(
      'SFG_OUTBOX_SLOT_MISSING',
      `replication slot "${slotName}" was created by this relay before but no longer exists. ` +
        `Recovery: reconcile the consumers, run \`${resetCommand}\` (resetReplicationSlot) to let the relay create ` +
        'a new slot (docs/outbox.md, "Lost slot").',
    );
  }
}

/** A record Kafka will never accept (too large, illegal topic name). */
export class UnpublishableEventError extends OutboxError {
  override readonly name = 'UnpublishableEventError';
  constructor(
    code: OutboxErrorCode,
    message: string,
    readonly eventId: string,
    cause?: unknown,
  ) {
    super(code, message, { cause });
  }
}

/** Publishing failed in a way that retrying later may fix (broker down, leader moving). */
export class PublishError extends OutboxError {
  override readonly name = 'PublishError';
  constructor(
    message: string,
    cause: unknown,
    retriable: boolean,
    /** Kafka's error type (e.g. MESSAGE_TOO_LARGE) when the broker gave one. */
    readonly kafkaType?: string,
  ) {
    super('SFG_OUTBOX_PUBLISH_FAILED', message, { retriable, cause });
  }
}

/**
 * A topic's partition count is not the one declared (or first seen): a key would map to another partition than its
 * earlier events, so their order would no longer hold. Nothing is sent; the relay retries until the topic is
 * restored or the new count is declared (docs/outbox.md, "Topics").
 */
export class TopicPartitionsChangedError extends OutboxError {
  override readonly name = 'TopicPartitionsChangedError';
  constructor(
    readonly topic: string,
    readonly expectedPartitions: number,
    readonly actualPartitions: number,
  ) {
    super(
      'SFG_OUTBOX_TOPIC_PARTITIONS_CHANGED',
      `topic ${topic} has ${actualPartitions} partitions where ${expectedPartitions} are expected: publishing would move keys to other ` +
        'partitions and break their order, so nothing is sent. Declare the new count (topics.partitions) once the consumers have ' +
        'caught up, or restore the topic (docs/outbox.md, "Topics").',
      { retriable: true },
    );
  }
}

/** Topics were created, but the broker did not report a leader for each partition in time. */
export class TopicLeadersTimeoutError extends OutboxError {
  override readonly name = 'TopicLeadersTimeoutError';
  constructor(
    readonly topics: string[],
    timeoutMs: number,
    waitingFor: string,
  ) {
    super('SFG_OUTBOX_TOPIC_LEADERS_TIMEOUT', `created topics ${topics.join(', ')}, but after ${timeoutMs} ms the broker still had no ${waitingFor}`, { retriable: true });
  }
}

/** The error's stable code, for metrics and DLQ headers; `unknown` when it has none. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown; type?: unknown } | undefined)?.code ?? (error as { type?: unknown } | undefined)?.type;
  return typeof code === 'string' && code ? code : 'unknown';
}

/** The innermost kafkajs protocol error type (e.g. MESSAGE_TOO_LARGE) of a kafkajs failure, looking through retry and aggregate wrappers. */
export function kafkaErrorType(error: unknown): string | undefined {
  let current = error as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown[] } | undefined;
  for (let depth = 0; current && depth < 8; depth += 1) {
    if (typeof current.type === 'string') return current.type;
    const nested = current.originalError ?? current.cause ?? current.errors?.[0];
    current = nested as typeof current;
  }
  return undefined;
}
