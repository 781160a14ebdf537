import type { Socket } from 'node:net';
import type pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { OutboxError, SlotLostError } from './errors';
import { LeaderElectedRelay, type LeaderSession } from './leadership';
import { beforeLsn, formatLsn, parseLsn } from './lsn';
import { PublishPipeline, type OutboxRow } from './pipeline';

/**
 * Longest a confirmed position waits before it is sent: one standby status update then covers every transaction
 * confirmed meanwhile (under load, one per commit in the database, most of them with nothing to publish) instead of
 * a socket write each. A restart re-sends at most this much, which consumers drop as duplicates.
 */
const ACKNOWLEDGE_COALESCE_MS = 20;

/** The socket under pg-logical-replication's connection, to pause the stream while Kafka catches up. */
function replicationSocket(service: LogicalReplicationService): Socket | undefined {
  return (service as unknown as { _connection?: { stream?: Socket } })._connection?.stream;
}

/**
 * The relay's existing slot, checked: refuses one of another database (slot names are per cluster: two databases'
 * relays with the same name would fight over one slot), a lost one (naming `resetCommand`) or one of another
 * plugin. Undefined when there is no such slot; else its confirmed position.
 */
export async function existingSlot(client: pg.Client, slotName: string, resetCommand?: string): Promise<{ confirmed: string } | undefined> {
  const [slot] = (
    await client.query<{ wal_status: string | null; plugin: string; database: string; ours: boolean; confirmed: string | null }>(
      `select wal_status, plugin, database, database = current_database() as ours, confirmed_flush_lsn::text as confirmed
       from pg_replication_slots where slot_name = $1`,
      [slotName],
    )
  ).rows;
  if (!slot) return undefined;
  if (!slot.ours) {
    throw new OutboxError(
      'SFG_OUTBOX_SLOT_IN_OTHER_DATABASE',
      `replication slot "${slotName}" belongs to database "${slot.database}": give each database's relay its own name or slotName`,
    );
  }
  if (slot.wal_status === 'lost') throw new SlotLostError(slotName, resetCommand);
  if (slot.plugin !== 'pgoutput') throw new OutboxError('SFG_OUTBOX_SLOT_PLUGIN', `replication slot "${slotName}" uses plugin ${slot.plugin}, not pgoutput`);
  return { confirmed: slot.confirmed ?? '0/0' };
}

/**
 * What a slot relay makes of the pgoutput messages of one transaction. The stream calls it synchronously, in WAL
 * order, for every message: `begin`, then `message` for each relation, type, change or logical decoding message,
 * then `commit`, which returns the rows to publish as one unit (none: nothing to publish).
 */
export interface TransactionDecoder {
  begin(message: Pgoutput.MessageBegin, lsn: string): void;
  message(message: Pgoutput.Message, lsn: string): void;
  commit(message: Pgoutput.MessageCommit, lsn: string): OutboxRow[];
  /** Forgets a transaction cut short by the end of the session. */
  reset(): void;
}

/**
 * A relay that streams a logical replication slot (pgoutput) into the publish pipeline: the CDC relay (outbox
 * inserts) and the table-capture relay (row changes) differ only in how they prepare the slot and decode a
 * transaction. The slot's confirmed position only moves past a transaction when all its records, and all before
 * it, are acknowledged by Kafka; the stream is paused while too many records wait; an idle slot is moved forward
 * by the server's keepalives.
 */
export abstract class ReplicationSlotRelay extends LeaderElectedRelay {
  /** Ensures the publication and the slot; refuses a lost or vanished slot. Runs on the leader's connection. */
  protected abstract prepareSlot(client: pg.Client): Promise<void>;

  /** A decoder for one leader session (called after prepareSlot). */
  protected abstract createDecoder(): TransactionDecoder;

  /** Whether the stream carries logical decoding messages (pg_logical_emit_message). */
  protected readonly logicalMessages: boolean = false;

  /** Startup options of the replication connection (`-c name=value ...`): the text formats the decoder reads. */
  protected readonly replicationSettings: string | undefined = undefined;

  protected async refreshSlotLag(client: pg.Client): Promise<void> {
    const { rows } = await client.query<{ lag: string | null }>(
      'select (pg_current_wal_lsn() - confirmed_flush_lsn)::text as lag from pg_replication_slots where slot_name = $1',
      [this.options.slotName],
    );
    if (rows[0]?.lag != null) this.metrics.slotLag.set(Number(rows[0].lag));
  }

  protected async lead(session: LeaderSession): Promise<void> {
    const { options, logger } = this;
    await this.prepareSlot(session.client);
    const decoder = this.createDecoder();
    const service = new LogicalReplicationService(
      {
        connectionString: options.connectionString,
        application_name: `strangler-relay-${options.name}-wal`,
        ...(this.replicationSettings ? { options: this.replicationSettings } : {}),
      },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    let failed!: (error: Error) => void;
    const failure = new Promise<never>((_, reject) => (failed = reject));
    failure.catch(() => undefined);

    let confirmed = 0n;
    let serverLsn = '0/0';
    let accepting = true;
    let paused = false;
    let inTransaction = false;
    let commitTimeMs = 0;
    let acknowledgeTimer: NodeJS.Timeout | undefined;
    const acknowledgeConfirmed = () => {
      clearTimeout(acknowledgeTimer);
      acknowledgeTimer = undefined;
      void service.acknowledge(beforeLsn(formatLsn(confirmed))).catch(() => undefined);
    };
    /**
     * Every confirmation goes through here: never backwards, and only at transaction boundaries. The server hears
     * of it within ACKNOWLEDGE_COALESCE_MS, in one status update for every transaction confirmed meanwhile.
     */
    const confirm = (lsn: string) => {
      const value = parseLsn(lsn);
      if (value <= confirmed) return;
      confirmed = value;
      acknowledgeTimer ??= setTimeout(acknowledgeConfirmed, ACKNOWLEDGE_COALESCE_MS);
    };
    const pipeline = new PublishPipeline<string>(options, {
      publisher: this.publisher,
      metrics: this.metrics,
      logger,
      onAcked: (lsn) => {
        confirm(lsn);
        if (paused && pipeline.pendingEvents <= options.batch.maxPendingEvents / 2) {
          paused = false;
          replicationSocket(service)?.resume();
        }
      },
      onFailure: failed,
    });
    this.pipeline = pipeline as PublishPipeline<unknown>;

    service.on('data', (lsn: string, message: Pgoutput.Message) => {
      if (!accepting) return;
      if (message.tag === 'begin') {
        inTransaction = true;
        commitTimeMs = Number(message.commitTime) / 1000;
        decoder.begin(message, lsn);
        return;
      }
      if (message.tag !== 'commit') {
        decoder.message(message, lsn);
        return;
      }
      inTransaction = false;
      const rows = decoder.commit(message, lsn);
      if (!message.commitEndLsn) return;
      if (rows.length === 0 && pipeline.idle) confirm(message.commitEndLsn);
      else pipeline.push({ rows, token: message.commitEndLsn, sourceTimeMs: commitTimeMs || Date.now() });
      if (!paused && pipeline.pendingEvents > options.batch.maxPendingEvents) {
        paused = true;
        replicationSocket(service)?.pause();
      }
    });
    // Keepalives carry the server's WAL position; when nothing is pending everything before it is done.
    service.on('heartbeat', (lsn: string) => {
      serverLsn = lsn;
      if (accepting && pipeline.idle && !inTransaction) confirm(lsn);
    });
    service.on('error', (error: Error) => failed(error));

    const heartbeat = setInterval(() => {
      if (!accepting) return;
      if (pipeline.idle && !inTransaction && parseLsn(serverLsn) > confirmed) confirm(serverLsn);
      // Repeat the confirmed position (never more) and ask for a keepalive: its LSN moves an idle slot forward.
      void service.acknowledge(beforeLsn(formatLsn(confirmed)), true).catch(() => undefined);
      this.refreshSlotLag(session.client).catch((error: unknown) => logger.debug({ err: error }, 'slot lag query failed'));
    }, options.heartbeatIntervalMs);
    heartbeat.unref();

    try {
      const started = new Promise<void>((resolve) => service.once('start', () => resolve()));
      const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [options.publicationName], messages: this.logicalMessages });
      const streaming = service.subscribe(plugin, options.slotName);
      const ended = streaming.then(() => {
        throw new OutboxError('SFG_OUTBOX_STREAM_ENDED', 'replication stream ended', { retriable: true });
      });
      ended.catch(() => undefined);
      // START_REPLICATION fails while the slot is still held by a dead leader's walsender: the session retries.
      await Promise.race([started, ended, failure, session.lost]);
      logger.info({ slot: options.slotName }, 'streaming from the replication slot');
      this.announceLeading();
      await Promise.race([session.stopRequested, session.lost, failure, ended]);
      accepting = false;
      inTransaction = false;
      decoder.reset();
      const drained = await pipeline.drain(options.stopTimeoutMs);
      if (acknowledgeTimer) acknowledgeConfirmed();
      logger.info({ drained }, 'relay drained');
    } catch (error) {
      pipeline.abort();
      throw error;
    } finally {
      accepting = false;
      clearInterval(heartbeat);
      clearTimeout(acknowledgeTimer);
      await service.destroy().catch(() => undefined);
      // destroy() drops every listener, but a late FATAL from the server (e.g. the database being dropped) can still
      // reach the service through its connection; without a listener EventEmitter2 would throw it.
      service.on('error', (error: Error) => logger.debug({ err: error }, 'replication connection error after stop'));
    }
  }
}
