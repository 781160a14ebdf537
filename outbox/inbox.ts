import pg from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { OutboxError, errorCode } from './errors';
import { createInboxMetrics, type InboxMetrics } from './metrics';
import { parseInboxOptions, type InboxOptions, type InboxOptionsInput } from './options';
import { KafkaPublisher, type Publisher } from './publisher';
import { qualified } from './sql';
import { KafkaSubscriber, type BatchControl, type ConsumedRecord, type DetachedBatch, type RecordBatch, type Subscriber } from './subscriber';

export interface InboxEvent {
  id: string;
  type: string;
  aggregateType: string;
  aggregateId: string;
  payload: unknown;
  headers: Record<string, string>;
  topic: string;
  partition: number;
  offset: string;
}

/** What a handler may report besides success; the outcome label of strangler_sync_events_total. */
export type HandlerOutcome = void | 'stale' | 'conflict';
export type InboxHandler = (event: InboxEvent, client: pg.PoolClient) => Promise<HandlerOutcome>;
/**
 * Applies several events of one partition, in offset order, in the caller's transaction; answers one outcome per
 * event (or nothing: all applied). Lets a handler write a chunk in a few statements instead of one per event.
 * Events of `coalescedTopics` come from several partitions at once, each partition's in offset order.
 */
export type InboxBatchHandler = (events: InboxEvent[], client: pg.PoolClient) => Promise<HandlerOutcome[] | void>;
type Outcome = 'applied' | 'duplicate' | 'stale' | 'conflict' | 'skipped';

/** Exactly one of `handler` and `batchHandler`. */
export type InboxDeps = InboxCommonDeps & ({ handler: InboxHandler; batchHandler?: never } | { batchHandler: InboxBatchHandler; handler?: never });

interface InboxCommonDeps {
  logger: Logger;
  registry: Registry;
  /** Producer for DLQ records; defaults to a KafkaPublisher on options.kafka. */
  publisher?: Publisher;
  /** The consumer group member; defaults to a KafkaSubscriber on options.kafka and options.groupId. */
  subscriber?: Subscriber;
  /**
   * Events it answers true for are passed over before any transaction: not claimed in the inbox, not handed to the
   * handler, counted as outcome `skipped`. For events known to need nothing, such as a side's own events read back.
   */
  skip?: (event: InboxEvent) => boolean;
  /**
   * The id of a record that has no `id` header (Debezium's change events carry none): a deterministic UUID derived
   * from the record, so a re-sent record is claimed once. Undefined: the record is refused as without an id. Records
   * with an `id` header never reach it.
   */
  eventId?: (record: ConsumedRecord, payload: unknown, topic: string, partition: number) => string | undefined;
  /** The aggregate type of a topic's events (the metric label and InboxEvent.aggregateType); default: the topic without `topicPrefix`. */
  aggregateType?: (topic: string) => string | undefined;
}

/**
 * A record published with Debezium's placement carries the whole `headers` column as one JSON header `headers`:
 * its entries become headers like the relay's one-per-entry placement makes them (a header of that name already
 * present wins). A `headers` header that is not a JSON object is left as it is.
 */
export function expandJsonHeaders(headers: Record<string, string>): Record<string, string> {
  const packed = headers.headers;
  if (packed === undefined || !packed.startsWith('{')) return headers;
  let entries: unknown;
  try {
    entries = JSON.parse(packed);
  } catch {
    return headers;
  }
  if (!entries || typeof entries !== 'object' || Array.isArray(entries)) return headers;
  const expanded: Record<string, string> = {};
  for (const [name, value] of Object.entries(entries as Record<string, unknown>)) expanded[name] = typeof value === 'string' ? value : JSON.stringify(value);
  return { ...expanded, ...headers };
}

/** A per-event handler failed: which of the events handed over it failed on; the handler's own error is the cause. */
class HandlerFailure extends Error {
  constructor(
    public index: number,
    cause: unknown,
  ) {
    super('handler failed', { cause });
  }
}

/** The transaction's connection failed or could not be made: the database's fault, not the event's. */
class DatabaseUnavailable extends Error {
  constructor(cause: unknown) {
    super('database unavailable', { cause });
  }
}

/** Longest wait between two tries of a database that is down. */
const UNAVAILABLE_BACKOFF_CAP_MS = 5_000;

function claimedApplier(deps: InboxDeps): (events: InboxEvent[], client: pg.PoolClient) => Promise<Outcome[]> {
  const { handler, batchHandler } = deps as { handler?: InboxHandler; batchHandler?: InboxBatchHandler };
  if ((handler === undefined) === (batchHandler === undefined)) {
    throw new OutboxError('SFG_OUTBOX_INVALID_OPTIONS', 'invalid inbox dependencies: pass exactly one of handler and batchHandler');
  }
  if (batchHandler) {
    return async (events, client) => {
      const outcomes = await batchHandler(events, client);
      if (outcomes === undefined) return events.map(() => 'applied');
      if (outcomes.length !== events.length) {
        throw new OutboxError('SFG_OUTBOX_HANDLER_OUTCOMES', `batchHandler answered ${outcomes.length} outcomes for ${events.length} events`, { retriable: false });
      }
      return outcomes.map((outcome) => outcome ?? 'applied');
    };
  }
  return async (events, client) => {
    const outcomes: Outcome[] = [];
    for (const [index, event] of events.entries()) {
      try {
        outcomes.push((await handler!(event, client)) ?? 'applied');
      } catch (error) {
        throw new HandlerFailure(index, error);
      }
    }
    return outcomes;
  };
}

/** A record of a chunk and where it was read. */
interface ChunkRecord {
  topic: string;
  partition: number;
  record: ConsumedRecord;
}

/** A detached batch of a coalesced topic, or what is left of it once a chunk took its first records. */
interface HeldBatch {
  topic: string;
  partition: number;
  highWatermark: string;
  records: ConsumedRecord[];
  detached: DetachedBatch;
}

/** Records of one held batch taken into a chunk; `last`: the batch's remaining records, so it is done with the chunk. */
interface HeldPart {
  held: HeldBatch;
  records: ConsumedRecord[];
  last: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Consumes outbox topics with a consumer group and applies each event exactly once in effect: the inbox row
 * (consumer, event id) and the handler's writes commit in one Postgres transaction, so a re-delivered event finds
 * its row and is skipped. Failures are retried with exponential backoff (non-retriable ones are not); after
 * maxAttempts the event goes to `<topic><dlqTopicSuffix>` with its origin and the error in headers, and the
 * partition moves on.
 */
export class InboxConsumer {
  readonly options: InboxOptions;
  private readonly logger: Logger;
  private readonly metrics: InboxMetrics;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly publisher: Publisher;
  private readonly subscriber: Subscriber;
  private readonly claimEvents: string;
  /** options.unclaimedTopics. */
  private readonly unclaimed: Set<string>;
  /** options.coalescedTopics. */
  private readonly coalesced: Set<string>;
  /** Detached batches of coalesced topics, in the order they were fetched, waiting for a chunk. */
  private readonly held: HeldBatch[] = [];
  private heldRecords = 0;
  /** The loop applying the held batches chunk by chunk, while there are any. */
  private applying: Promise<void> | undefined;
  /** Batch handlers waiting for the held records to fall below a chunk. */
  private roomWaiters: Array<() => void> = [];
  private closing = false;
  /** Runs the handler on the events claimed in the caller's transaction; an error names the index it failed at, when known. */
  private readonly applyClaimed: (events: InboxEvent[], client: pg.PoolClient) => Promise<Outcome[]>;
  private readonly lagByPartition = new Map<string, Map<number, number>>();
  /** Records decoded for `skip`, so the chunk that applies them does not decode them again. */
  private readonly decoded = new WeakMap<ConsumedRecord, InboxEvent>();
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(options: InboxOptionsInput | InboxOptions, private readonly deps: InboxDeps) {
    this.options = parseInboxOptions(options);
    this.logger = deps.logger.child({ component: 'inbox', consumer: this.options.name });
    this.metrics = createInboxMetrics(deps.registry, this.options.name);
    this.ownsPool = !this.options.pool;
    this.pool = this.options.pool ?? new pg.Pool({ connectionString: this.options.connectionString, max: this.options.partitionsConsumedConcurrently });
    // An idle client whose server went away (a restart, a failover) is dropped by the pool; the next chunk reconnects.
    if (this.ownsPool) this.pool.on('error', (error) => this.logger.warn({ err: error }, 'idle database client failed'));
    const { kafka } = this.options;
    this.publisher = deps.publisher ?? new KafkaPublisher({ ...kafka, clientId: `${kafka.clientId}-dlq` }, { logger: this.logger });
    this.subscriber = deps.subscriber ?? new KafkaSubscriber({
      brokers: kafka.brokers,
      clientId: kafka.clientId,
      groupId: this.options.groupId,
      connectionTimeoutMs: kafka.connectionTimeoutMs,
      requestTimeoutMs: kafka.requestTimeoutMs,
      sessionTimeoutMs: kafka.sessionTimeoutMs,
    });
    const claim = `insert into ${qualified(this.options.schema, 'inbox')} (consumer, event_id) select $1, unnest($2::uuid[]) on conflict do nothing returning event_id`;
    // The notification rides on the claim (Postgres folds repeats of one channel and payload into one, sent at commit).
    this.claimEvents = this.options.notifyChannel
      ? `with claimed as (${claim}) select event_id::text, pg_notify(${pg.escapeLiteral(this.options.notifyChannel)}, $1) from claimed`
      : `${claim}::text`;
    this.applyClaimed = claimedApplier(deps);
    this.unclaimed = new Set(this.options.unclaimedTopics);
    this.coalesced = new Set(this.options.coalescedTopics);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.publisher.connect();
    const { topics, fromBeginning, partitionsConsumedConcurrently } = this.options;
    await this.subscriber.run({ topics, fromBeginning, partitionsConsumedConcurrently }, (batch, control) => this.eachBatch(batch, control));
  }

  /** Lets the event in progress finish, commits offsets, disconnects. Safe to call twice. */
  stop(): Promise<void> {
    this.closing = true;
    this.wakeRoomWaiters();
    this.stopping ??= (async () => {
      if (this.started) await this.subscriber.disconnect();
      await this.publisher.disconnect();
      if (this.ownsPool) await this.pool.end();
    })();
    return this.stopping;
  }

  /**
   * Works through a partition's records `maxBatchEvents` at a time, each chunk in one transaction; a chunk that
   * cannot be applied as a whole (a handler failed, a record does not decode) is rolled back and its records
   * applied one by one, so only the failing event is retried or dead-lettered.
   */
  private async eachBatch(batch: RecordBatch, control: BatchControl): Promise<void> {
    if (control.detach && this.coalesced.has(batch.topic)) return this.hold(batch, control);
    const { maxBatchEvents } = this.options;
    for (let start = 0; start < batch.records.length; start += maxBatchEvents) {
      if (!control.isActive()) return;
      const received = batch.records.slice(start, start + maxBatchEvents);
      const last = received[received.length - 1]!;
      const chunk = this.withoutSkipped(batch.topic, batch.partition, received);
      const result =
        chunk.length > 1
          ? await this.applyChunk(chunk.map((record) => ({ topic: batch.topic, partition: batch.partition, record })))
          : chunk.length === 1
            ? { failedAt: 0, error: undefined }
            : { outcomes: [] };
      if ('outcomes' in result) {
        this.countOutcomes(result.outcomes);
        control.markProcessed(last.offset);
      } else {
        // The record that failed the chunk has had its first attempt; those before it have not been applied.
        for (const [index, record] of chunk.entries()) {
          if (!control.isActive()) return;
          if (!(await this.handle(batch.topic, batch.partition, record, control, index === result.failedAt ? result.error : undefined))) return;
          control.markProcessed(record.offset);
        }
        // Records skipped after the last one applied are done as well.
        if (chunk.at(-1) !== last) control.markProcessed(last.offset);
      }
      await control.heartbeat();
      this.recordLag(batch.topic, batch.partition, Number(batch.highWatermark) - Number(last.offset) - 1);
    }
  }

  /**
   * Keeps a batch of a coalesced topic for the chunks across partitions and returns, so that the consumer fetches
   * on while chunks are applied; waits first while a whole chunk is already held (bounded memory, backpressure).
   */
  private async hold(batch: RecordBatch, control: BatchControl): Promise<void> {
    while (this.heldRecords >= this.options.maxBatchEvents && !this.closing && control.isActive()) {
      await new Promise<void>((resolve) => {
        this.roomWaiters.push(resolve);
        setTimeout(resolve, 1_000).unref();
      });
      await control.heartbeat();
    }
    // Not taken: the records stay unresolved, fetched again (by whichever member then holds the partition).
    if (this.closing || !control.isActive()) return sleep(20);
    const detached = control.detach!();
    if (!detached.isActive()) return detached.release();
    this.held.push({ topic: batch.topic, partition: batch.partition, highWatermark: batch.highWatermark, records: batch.records, detached });
    this.heldRecords += batch.records.length;
    this.applyHeld();
    // Decoded now, while the chunk in flight waits for the database, instead of when their own chunk starts.
    for (const record of batch.records) {
      try {
        this.decode(batch.topic, batch.partition, record);
      } catch {
        // It fails where it is applied.
      }
    }
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Starts the loop that applies the held batches, unless it runs. */
  private applyHeld(): void {
    if (this.applying) return;
    this.applying = (async () => {
      // The other batches of the same fetch are handed over in this turn of the event loop: one chunk takes them all.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.held.length) await this.applyNextChunk();
    })()
      .catch(async (error: unknown) => {
        this.logger.error({ err: error }, 'applying held batches failed; trying again');
        await sleep(this.options.retryBackoffMs);
      })
      .finally(() => {
        this.applying = undefined;
        if (this.held.length) this.applyHeld();
      });
  }

  /**
   * Takes up to maxBatchEvents held records, of any partitions, in the order they were fetched, and applies them in
   * one transaction (one by one when that fails, as eachBatch does); marks each partition's offsets after.
   */
  private async applyNextChunk(): Promise<void> {
    const parts: HeldPart[] = [];
    let room = this.options.maxBatchEvents;
    while (room > 0 && this.held.length) {
      const held = this.held[0]!;
      if (held.records.length <= room) {
        this.held.shift();
        parts.push({ held, records: held.records, last: true });
        room -= held.records.length;
      } else {
        parts.push({ held, records: held.records.slice(0, room), last: false });
        held.records = held.records.slice(room);
        room = 0;
      }
    }
    this.heldRecords -= this.options.maxBatchEvents - room;
    // The consumer may fetch the next chunk's records while this one is applied.
    this.wakeRoomWaiters();
    const active = parts.filter((part) => part.held.detached.isActive());
    let heldAgain = false;
    try {
      await this.applyParts(active);
    } catch (error) {
      // Unexpected (the chunk's own failures are retried event by event): the chunk is held again, first in line,
      // so that nothing fetched after it is marked before it is applied.
      this.logger.error({ err: error }, 'applying a chunk of held batches failed; trying it again');
      heldAgain = true;
      for (const part of [...active].reverse()) {
        if (part.last) this.held.unshift({ ...part.held, records: part.records });
        else part.held.records = [...part.records, ...part.held.records];
        this.heldRecords += part.records.length;
      }
      await sleep(this.options.retryBackoffMs);
    } finally {
      for (const part of parts) if (part.last && !(heldAgain && active.includes(part))) part.held.detached.release();
    }
  }

  private async applyParts(parts: HeldPart[]): Promise<void> {
    const entries: ChunkRecord[] = [];
    for (const { held, records } of parts) {
      for (const record of this.withoutSkipped(held.topic, held.partition, records)) entries.push({ topic: held.topic, partition: held.partition, record });
    }
    const result = entries.length > 1 ? await this.applyChunk(entries) : entries.length === 1 ? { failedAt: 0, error: undefined } : { outcomes: [] };
    if ('outcomes' in result) {
      this.countOutcomes(result.outcomes);
    } else {
      const detachedOf = new Map<ConsumedRecord, DetachedBatch>();
      for (const { held, records } of parts) for (const record of records) detachedOf.set(record, held.detached);
      for (const [index, { topic, partition, record }] of entries.entries()) {
        const detached = detachedOf.get(record)!;
        if (!detached.isActive()) return;
        if (!(await this.handle(topic, partition, record, detached, index === result.failedAt ? result.error : undefined))) return;
        detached.markProcessed(record.offset);
      }
    }
    for (const { held, records } of parts) {
      const last = records[records.length - 1]!;
      held.detached.markProcessed(last.offset);
      this.recordLag(held.topic, held.partition, Number(held.highWatermark) - Number(last.offset) - 1);
    }
  }

  /** The records `deps.skip` does not pass over (a record that does not decode stays, to fail where it is applied). */
  private withoutSkipped(topic: string, partition: number, records: ConsumedRecord[]): ConsumedRecord[] {
    const { skip } = this.deps;
    if (!skip) return records;
    return records.filter((record) => {
      let event: InboxEvent;
      try {
        event = this.decode(topic, partition, record);
      } catch {
        return true;
      }
      if (!skip(event)) return true;
      this.metrics.outcome(event.aggregateType, 'skipped');
      return false;
    });
  }

  /**
   * Applies every record of `chunk` in one transaction. When one fails, nothing is applied and the answer names
   * the failing record and its error (its first attempt), or -1 when no single record is to blame.
   */
  private async applyChunk(chunk: ChunkRecord[]): Promise<{ outcomes: Array<{ aggregateType: string; outcome: Outcome }> } | { failedAt: number; error: unknown }> {
    const events: InboxEvent[] = [];
    for (const [index, { topic, partition, record }] of chunk.entries()) {
      try {
        events.push(this.decode(topic, partition, record));
      } catch (error) {
        return { failedAt: index, error };
      }
    }
    const client = await this.pool.connect().catch(() => undefined);
    // Applied one by one, where a database that is down is waited for.
    if (!client) return { failedAt: -1, error: undefined };
    let broken = false;
    // A checked-out client has no pool listener: a server going away between two statements emits 'error' on it,
    // which would otherwise end the process.
    const markBroken = () => (broken = true);
    client.on('error', markBroken);
    try {
      await client.query('begin');
      const outcomes = await this.applyIn(client, events);
      await client.query('commit');
      return { outcomes: outcomes.map((outcome, index) => ({ aggregateType: events[index]!.aggregateType, outcome })) };
    } catch (error) {
      await client.query('rollback').catch(() => (broken = true));
      return error instanceof HandlerFailure && !broken ? { failedAt: error.index, error: error.cause } : { failedAt: -1, error: undefined };
    } finally {
      client.off('error', markBroken);
      client.release(broken);
    }
  }

  /** Claims the events' ids in the inbox (one statement) and runs the handler on those claimed, in the caller's transaction. */
  private async applyIn(client: pg.PoolClient, events: InboxEvent[]): Promise<Outcome[]> {
    // Without a claim every event goes to the handler, which makes a redelivery harmless by itself.
    const toClaim = events.filter((event) => !this.unclaimed.has(event.topic));
    if (toClaim.length === 0) return this.applyClaimed(events, client);
    const claimed = new Set((await client.query<{ event_id: string }>(this.claimEvents, [this.options.name, toClaim.map((event) => event.id)])).rows.map((row) => row.event_id));
    const outcomes: Outcome[] = [];
    const fresh: InboxEvent[] = [];
    const freshAt: number[] = [];
    for (const [index, event] of events.entries()) {
      // An id twice in one chunk (a relay re-sent it) is claimed once: its first copy is applied, the others are duplicates.
      if (this.unclaimed.has(event.topic) || claimed.delete(event.id.toLowerCase())) {
        fresh.push(event);
        freshAt.push(index);
        outcomes.push('applied');
      } else {
        outcomes.push('duplicate');
      }
    }
    if (fresh.length === 0) return outcomes;
    try {
      const results = await this.applyClaimed(fresh, client);
      for (const [index, outcome] of results.entries()) outcomes[freshAt[index]!] = outcome;
    } catch (error) {
      // The handler saw only the claimed events: name the failing one by its place in `events`.
      if (error instanceof HandlerFailure) error.index = freshAt[error.index]!;
      throw error;
    }
    return outcomes;
  }

  /** One counter increment per aggregate type and outcome of a chunk, rather than per event. */
  private countOutcomes(outcomes: ReadonlyArray<{ aggregateType: string; outcome: Outcome }>): void {
    const counts = new Map<string, Map<Outcome, number>>();
    for (const { aggregateType, outcome } of outcomes) {
      let byOutcome = counts.get(aggregateType);
      if (!byOutcome) counts.set(aggregateType, (byOutcome = new Map()));
      byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
    }
    for (const [aggregateType, byOutcome] of counts) for (const [outcome, count] of byOutcome) this.metrics.outcome(aggregateType, outcome, count);
  }

  private recordLag(topic: string, partition: number, lag: number): void {
    let partitions = this.lagByPartition.get(topic);
    if (!partitions) {
      partitions = new Map();
      this.lagByPartition.set(topic, partitions);
    }
    partitions.set(partition, lag);
    let total = 0;
    for (const value of partitions.values()) total += value;
    this.metrics.lag(topic, total);
  }

  private aggregateTypeOf(topic: string): string {
    const named = this.deps.aggregateType?.(topic);
    if (named !== undefined) return named;
    const { topicPrefix } = this.options;
    return topicPrefix && topic.startsWith(topicPrefix) ? topic.slice(topicPrefix.length) : topic;
  }

  private decode(topic: string, partition: number, message: ConsumedRecord): InboxEvent {
    const known = this.decoded.get(message);
    if (known) return known;
    const headers = expandJsonHeaders(message.headers);
    const derive = headers.id === undefined ? this.deps.eventId : undefined;
    let id = headers.id ?? '';
    if (!derive && !UUID.test(id)) throw new OutboxError('SFG_OUTBOX_INVALID_EVENT', `record has no uuid 'id' header (got "${id}")`);
    let payload: unknown = null;
    if (message.value) {
      try {
        payload = JSON.parse(message.value.toString());
      } catch (error) {
        throw new OutboxError('SFG_OUTBOX_INVALID_EVENT', `value is not JSON: ${(error as Error).message}`, { cause: error });
      }
    }
    if (derive) {
      const derived = derive(message, payload, topic, partition);
      if (derived === undefined) throw new OutboxError('SFG_OUTBOX_INVALID_EVENT', `record has no uuid 'id' header (got "")`);
      if (!UUID.test(derived)) throw new OutboxError('SFG_OUTBOX_INVALID_EVENT', `record has no uuid 'id' header and the derived id is not a uuid (got "${derived}")`);
      id = derived;
    }
    const event: InboxEvent = {
      id,
      type: headers.type ?? '',
      aggregateType: this.aggregateTypeOf(topic),
      aggregateId: message.key ?? '',
      payload,
      headers,
      topic,
      partition,
      offset: message.offset,
    };
    this.decoded.set(message, event);
    return event;
  }

  /**
   * Applies one record with its retries and DLQ; `failedOnce` is the error of a first attempt already made (in a
   * chunk). A database that is down is waited for as long as it takes, without spending the event's attempts;
   * answers false when the consumer stopped meanwhile, leaving the record to be delivered again.
   */
  private async handle(topic: string, partition: number, message: ConsumedRecord, control: Pick<BatchControl, 'isActive'>, failedOnce?: unknown): Promise<boolean> {
    const { maxAttempts, retryBackoffMs } = this.options;
    let event: InboxEvent | undefined;
    let unavailableFor = 0;
    for (let attempt = 1; ; attempt += 1) {
      try {
        if (attempt === 1 && failedOnce !== undefined) throw failedOnce;
        event ??= this.decode(topic, partition, message);
        const outcome = await this.applyOnce(event);
        this.metrics.outcome(event.aggregateType, outcome);
        if (unavailableFor) this.logger.info({ topic, partition, tries: unavailableFor }, 'database available again');
        return true;
      } catch (error) {
        if (error instanceof DatabaseUnavailable) {
          this.metrics.databaseUnavailable();
          if (this.closing || !control.isActive()) return false;
          const delayMs = Math.min(retryBackoffMs * 2 ** unavailableFor, UNAVAILABLE_BACKOFF_CAP_MS);
          if (unavailableFor === 0) this.logger.warn({ err: error.cause, topic, partition, offset: message.offset }, 'database unavailable; waiting for it');
          unavailableFor += 1;
          attempt -= 1;
          await sleep(delayMs);
          continue;
        }
        // Unknown errors may be transient (a lost connection, a deadlock): only an explicit retriable=false is final.
        const final = (error as { retriable?: unknown }).retriable === false || attempt >= maxAttempts;
        const aggregateType = event?.aggregateType ?? this.aggregateTypeOf(topic);
        if (!final) {
          this.metrics.outcome(aggregateType, 'retried');
          const delayMs = retryBackoffMs * 2 ** (attempt - 1);
          this.logger.warn({ err: error, eventId: event?.id, topic, partition, offset: message.offset, attempt, delayMs }, 'inbox handler failed; retrying');
          await sleep(delayMs);
          continue;
        }
        await this.deadLetter(topic, partition, message, error, attempt);
        this.metrics.outcome(aggregateType, 'dlq');
        return true;
      }
    }
  }

  /** One transaction: claim the event id in the inbox, run the handler, commit. */
  private async applyOnce(event: InboxEvent): Promise<Outcome> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw new DatabaseUnavailable(error);
    }
    let broken = false;
    const markBroken = () => (broken = true);
    client.on('error', markBroken);
    try {
      await client.query('begin');
      const outcome = (await this.applyIn(client, [event]))[0]!;
      await client.query(outcome === 'duplicate' ? 'rollback' : 'commit');
      return outcome;
    } catch (error) {
      await client.query('rollback').catch(() => (broken = true));
      const cause = error instanceof HandlerFailure ? error.cause : error;
      throw broken ? new DatabaseUnavailable(cause) : cause;
    } finally {
      client.off('error', markBroken);
      client.release(broken);
    }
  }

  private async deadLetter(topic: string, partition: number, message: ConsumedRecord, error: unknown, attempts: number): Promise<void> {
    const dlqTopic = `${topic}${this.options.dlqTopicSuffix}`;
    const failure = error as Error;
    this.logger.error({ err: failure, topic, partition, offset: message.offset, attempts, dlqTopic }, 'event sent to the DLQ');
    // Retried until Kafka takes it: moving past the event without a DLQ copy would lose it.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.publisher.send([
          {
            topic: dlqTopic,
            key: message.key,
            value: message.value,
            headers: {
              ...message.headers,
              'sfg.dlq.original.topic': topic,
              'sfg.dlq.original.partition': String(partition),
              'sfg.dlq.original.offset': message.offset,
              'sfg.dlq.error.code': errorCode(failure),
              'sfg.dlq.error.message': String(failure?.message ?? failure).slice(0, 1_000),
              'sfg.dlq.attempts': String(attempts),
            },
          },
        ]);
        return;
      } catch (sendError) {
        this.logger.warn({ err: sendError, dlqTopic, attempt }, 'DLQ send failed; retrying');
        await sleep(Math.min(5_000, this.options.retryBackoffMs * 2 ** Math.min(attempt, 10)));
      }
    }
  }
}
