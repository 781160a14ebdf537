import type { Logger } from 'pino';
import { OutboxError, PublishError, UnpublishableEventError, errorCode, unpublishableCode } from './errors';
import type { RelayMetrics } from './metrics';
import type { RelayOptions } from './options';
import type { PublishRecord, Publisher } from './publisher';
import { isLegalTopic } from './topics';

/** One outbox row as the relays read it: every column as Postgres renders it in text. */
export interface OutboxRow {
  id: string;
  aggregatetype: string;
  aggregateid: string;
  type: string;
  payload: string | null;
  /** The headers jsonb column as text, e.g. `{"origin": "legacy"}`. */
  headers: string | null;
  /** Kafka headers ready to send (table capture): taken as they are instead of being built from id, type and headers. */
  kafkaHeaders?: Record<string, string>;
}

/** Rows that become durable together (a WAL transaction, a poll) and the position that marks them done. */
export interface PublishUnit<T> {
  rows: OutboxRow[];
  token: T;
  /** Commit time (CDC) or oldest created_at (polling), for the commit-to-ack latency. */
  sourceTimeMs: number;
}

export interface PipelineDeps<T> {
  publisher: Publisher;
  metrics: RelayMetrics;
  logger: Logger;
  /** Called after every event up to and including this unit is acknowledged by Kafka, in push order. */
  onAcked(token: T): void | Promise<void>;
  /** Whether the pipeline sets the backlog gauge to its pending events (polling reports unpublished rows itself). */
  reportsBacklog?: boolean;
  /** The pipeline gave up (onUnpublishable=stop, or onAcked failed): the session must end without acknowledging more. */
  onFailure(error: Error): void;
}

class Aborted extends Error {}

/** The share of kafka.maxRecordBytes one send may carry (sliceEnd), and what a record adds besides key and value. */
const SEND_BYTES_SHARE = 0.8;
const RECORD_OVERHEAD_BYTES = 64;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Turns rows into Kafka records and publishes them with one send in flight at a time: whatever arrives while a
 * send is in flight becomes the next batch. Units complete strictly in push order, so the acknowledged positions
 * always form a contiguous prefix. Retriable failures are retried forever (with backoff) until stop; a record
 * Kafka can never accept follows `onUnpublishable`.
 */
export class PublishPipeline<T> {
  private readonly queue: PublishUnit<T>[] = [];
  /** The batch being sent: taken off the queue, not yet acknowledged. */
  private inFlight: PublishUnit<T>[] = [];
  private queuedEvents = 0;
  private running: Promise<void> | undefined;
  private scheduled = false;
  private aborted = false;
  private readonly topics = new Map<string, { topic: string; legal: boolean }>();
  private readonly dlqHeaderPrefix = 'sfg.error.';
  /** Ids of the current batch's events that went to the DLQ or were skipped: not counted as published. */
  private readonly routedAway = new Set<string>();

  constructor(
    private readonly options: RelayOptions,
    private readonly deps: PipelineDeps<T>,
  ) {}

  /** Events pushed and not yet acknowledged. */
  get pendingEvents(): number {
    return this.queuedEvents;
  }

  get idle(): boolean {
    return this.queue.length === 0 && this.running === undefined;
  }

  push(unit: PublishUnit<T>): void {
    if (this.aborted) return;
    this.queue.push(unit);
    this.queuedEvents += unit.rows.length;
    if (this.deps.reportsBacklog !== false) this.deps.metrics.backlog.set(this.queuedEvents);
    if (!this.running && !this.scheduled) {
      // Let the rest of the socket chunk arrive first: it joins this batch.
      this.scheduled = true;
      setImmediate(this.startRunning);
    }
  }

  /** Waits until everything pushed is acknowledged; false when `timeoutMs` passed first. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.idle || this.scheduled) {
      if (this.aborted || Date.now() > deadline) return false;
      await (this.running ?? sleep(1));
    }
    return !this.aborted;
  }

  /** Stops retrying and drops what is queued; nothing more is acknowledged. */
  abort(): void {
    this.aborted = true;
    this.inFlight = [];
    this.queue.length = 0;
    this.queuedEvents = 0;
  }

  refreshLag(nowMs = Date.now()): void {
    const oldest = this.inFlight[0] ?? this.queue[0];
    this.deps.metrics.lag.set(oldest ? Math.max(0, (nowMs - oldest.sourceTimeMs) / 1000) : 0);
  }

  private readonly startRunning = (): void => {
    this.scheduled = false;
    if (this.running || this.queue.length === 0) return;
    this.running = this.run().finally(() => {
      this.running = undefined;
      // Units pushed between the loop's last check and now.
      if (this.queue.length > 0 && !this.aborted) this.startRunning();
    });
  };

  private async run(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.aborted) {
        const units = this.takeBatch();
        this.inFlight = units;
        const records: PublishRecord[] = [];
        for (const unit of units) for (const row of unit.rows) {
          const record = this.toRecord(row);
          if (record.refusal) await this.unpublishable(record, record.refusal);
          else records.push(record);
        }
        for (let start = 0; start < records.length; ) {
          const end = this.sliceEnd(records, start);
          await this.sendWithRetry(records.slice(start, end));
          start = end;
        }
        this.completed(units);
        await this.deps.onAcked(units[units.length - 1]!.token);
      }
    } catch (error) {
      this.abort();
      if (error instanceof Aborted) {
        this.deps.onFailure(new OutboxError('SFG_OUTBOX_ABORTED', 'in-flight sends abandoned (stop timeout)', { retriable: true }));
        return;
      }
      this.deps.onFailure(error as Error);
    }
  }

  /**
   * Where the send that starts at `start` ends: at most batch.maxEvents records and about SEND_BYTES_SHARE of
   * kafka.maxRecordBytes. The broker refuses a partition's record batch larger than its message.max.bytes
   * (MESSAGE_TOO_LARGE), and a refused send is retried record by record, one round trip each: large records (a
   * binlog update carries both row images) must not add up to such a batch.
   */
  private sliceEnd(records: PublishRecord[], start: number): number {
    const budget = this.options.kafka.maxRecordBytes * SEND_BYTES_SHARE;
    const last = Math.min(records.length, start + this.options.batch.maxEvents);
    let bytes = 0;
    for (let end = start; end < last; end += 1) {
      const record = records[end]!;
      // UTF-16 length as the size: exact for ASCII; a send of mostly multi-byte text may still be refused and split.
      bytes += (typeof record.value === 'string' ? record.value.length : (record.value?.length ?? 0)) + (record.key?.length ?? 0) + RECORD_OVERHEAD_BYTES;
      if (bytes > budget && end > start) return end;
    }
    return last;
  }

  /** Whole units, up to maxEvents records (a single larger unit is taken alone and sent in slices). */
  private takeBatch(): PublishUnit<T>[] {
    const units: PublishUnit<T>[] = [];
    let events = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (units.length > 0 && events + next.rows.length > this.options.batch.maxEvents) break;
      units.push(this.queue.shift()!);
      events += next.rows.length;
    }
    return units;
  }

  private completed(units: PublishUnit<T>[]): void {
    const { metrics } = this.deps;
    this.inFlight = [];
    const now = Date.now();
    let events = 0;
    for (const unit of units) {
      const seconds = Math.max(0, (now - unit.sourceTimeMs) / 1000);
      for (const row of unit.rows) {
        if (this.routedAway.has(row.id)) continue;
        metrics.published(row.aggregatetype).inc();
        metrics.latency.observe(seconds);
      }
      events += unit.rows.length;
    }
    this.routedAway.clear();
    this.queuedEvents -= events;
    if (this.deps.reportsBacklog !== false) metrics.backlog.set(this.queuedEvents);
    this.refreshLag(now);
  }

  private topicFor(aggregateType: string): { topic: string; legal: boolean } {
    let entry = this.topics.get(aggregateType);
    if (!entry) {
      const topic = this.options.topicPrefix + aggregateType;
      entry = { topic, legal: isLegalTopic(topic) };
      this.topics.set(aggregateType, entry);
    }
    return entry;
  }

  private headersOf(row: OutboxRow): Record<string, string> {
    const headers: Record<string, string> = { id: row.id, type: row.type };
    const placement = this.options.headerPlacement;
    if (placement !== 'json' && row.headers && row.headers !== '{}') {
      for (const [name, value] of Object.entries(JSON.parse(row.headers) as Record<string, unknown>)) {
        headers[name] = typeof value === 'string' ? value : JSON.stringify(value);
      }
    }
    if (placement !== 'entries') headers.headers = row.headers ?? '{}';
    return headers;
  }

  /** The Kafka record for a row (Debezium EventRouter's, or a captured change's), with the reason when Kafka could never accept it. */
  private toRecord(row: OutboxRow): PublishRecord & { refusal?: UnpublishableEventError } {
    const headers = row.kafkaHeaders ?? this.headersOf(row);
    const { topic, legal } = this.topicFor(row.aggregatetype);
    const record = { topic, key: row.aggregateid, value: row.payload, headers };
    if (!legal) {
      return { ...record, refusal: new UnpublishableEventError('SFG_OUTBOX_ILLEGAL_TOPIC', `"${topic}" is not a legal Kafka topic name`, row.id) };
    }
    const limit = this.options.kafka.maxRecordBytes;
    // Cheap bound first: a UTF-16 length times 3 bounds the UTF-8 size.
    if (row.payload !== null && row.payload.length * 3 >= limit) {
      const bytes = Buffer.byteLength(row.payload);
      if (bytes >= limit) {
        const message = `payload of ${bytes} bytes exceeds kafka.maxRecordBytes ${limit}`;
        return { ...record, refusal: new UnpublishableEventError('SFG_OUTBOX_RECORD_TOO_LARGE', message, row.id) };
      }
    }
    return record;
  }

  private async sendWithRetry(records: PublishRecord[]): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      if (this.aborted) throw new Aborted();
      try {
        await this.deps.publisher.send(records);
        return;
      } catch (error) {
        const publishError = error as PublishError;
        this.deps.metrics.errors(publishError.kafkaType ?? errorCode(error)).inc();
        if (publishError.retriable !== false) {
          const delayMs = Math.min(this.options.retryBackoffMs.max, this.options.retryBackoffMs.initial * 2 ** Math.min(attempt, 16));
          this.deps.logger.warn({ err: error, attempt, records: records.length, delayMs }, 'kafka send failed; retrying');
          await sleep(delayMs);
          continue;
        }
        if (records.length > 1) {
          // Find which records Kafka refuses; resending the rest may duplicate some (re-deliveries, same order).
          for (const record of records) await this.sendWithRetry([record]);
          return;
        }
        await this.unpublishable(
          records[0]!,
          new UnpublishableEventError(unpublishableCode(publishError.kafkaType), publishError.message, records[0]!.headers.id ?? '', error),
        );
        return;
      }
    }
  }

  private async unpublishable(record: PublishRecord, error: UnpublishableEventError): Promise<void> {
    const { logger, metrics } = this.deps;
    const log = { eventId: error.eventId, topic: record.topic, code: error.code };
    metrics.errors(error.code).inc();
    this.routedAway.add(error.eventId);
    if (record.topic === this.options.dlqTopic) {
      logger.error({ ...log, err: error }, 'the DLQ itself refuses a record: stopping the relay');
      throw error;
    }
    switch (this.options.onUnpublishable) {
      case 'stop':
        logger.error({ ...log, err: error }, 'unpublishable event: stopping the relay (onUnpublishable=stop)');
        throw error;
      case 'skip':
        logger.warn({ ...log, err: error }, 'unpublishable event skipped (onUnpublishable=skip)');
        return;
      case 'dlq': {
        const tooLarge = error.code === 'SFG_OUTBOX_RECORD_TOO_LARGE' || error.code === 'SFG_OUTBOX_MESSAGE_TOO_LARGE';
        const p = this.dlqHeaderPrefix;
        await this.sendWithRetry([
          {
            topic: this.options.dlqTopic,
            key: record.key,
            value: tooLarge ? null : record.value,
            headers: {
              ...record.headers,
              [`${p}code`]: error.code,
              [`${p}message`]: error.message.slice(0, 1000),
              [`${p}original.topic`]: record.topic,
              ...(tooLarge ? { [`${p}value.dropped`]: 'too_large' } : {}),
            },
          },
        ]);
        metrics.dlq.inc();
        logger.warn(log, 'unpublishable event sent to the DLQ');
        return;
      }
    }
  }
}
