/** Every outbox error carries a stable `code`, whether retrying can help, and the underlying cause. */
export class OutboxError extends Error {
  override readonly name: string = 'OutboxError';
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
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
    code: string,
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
