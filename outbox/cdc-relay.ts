import type { Socket } from 'node:net';
import type pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { OutboxError, SlotLostError, SlotMissingError } from './errors';
import { LeaderElectedRelay, type LeaderSession } from './leadership';
import { beforeLsn, formatLsn, parseLsn } from './lsn';
import { PublishPipeline, type OutboxRow } from './pipeline';
import { qualified, quoteIdent } from './sql';

const keepText = (raw: unknown) => raw;
/**
 * Longest a confirmed position waits before it is sent: one standby status update then covers every transaction
 * confirmed meanwhile (under load, one per commit in the database, most of them with no outbox row) instead of a
 * socket write each. A restart re-sends at most this much, which the inbox drops as duplicates.
 */
const ACKNOWLEDGE_COALESCE_MS = 20;

/** The socket under pg-logical-replication's connection, to pause the stream while Kafka catches up. */
function replicationSocket(service: LogicalReplicationService): Socket | undefined {
  return (service as unknown as { _connection?: { stream?: Socket } })._connection?.stream;
}

/**
 * Publishes outbox inserts from the WAL (logical replication, pgoutput) without re-reading rows. The slot's
 * confirmed position only moves past a transaction when all its events, and all before it, are acknowledged.
 */
export class CdcRelay extends LeaderElectedRelay {
  /** Ensures the publication (inserts on the outbox table only) and the slot; refuses a lost or vanished slot. */
  private async prepareSlot(client: pg.Client): Promise<void> {
    const { schema, table, slotName, publicationName } = this.options;
    const publication = await client.query('select 1 from pg_publication where pubname = $1', [publicationName]);
    if (publication.rowCount === 0) {
      await client.query(`create publication ${quoteIdent(publicationName)} for table ${qualified(schema, table)} with (publish = 'insert')`);
    }
    const ledger = qualified(schema, 'strangler_relay_slots');
    await client.query(`create table if not exists ${ledger} (slot_name varchar(63) primary key, created_at timestamptz not null default now())`);
    const slot = await client.query<{ wal_status: string | null; plugin: string; database: string; ours: boolean }>(
      'select wal_status, plugin, database, database = current_database() as ours from pg_replication_slots where slot_name = $1',
      [slotName],
    );
    const existing = slot.rows[0];
    if (existing) {
      // Slot names are per cluster: two databases' relays with the same name would fight over one slot.
      if (!existing.ours) {
        throw new OutboxError(
          'SFG_OUTBOX_SLOT_IN_OTHER_DATABASE',
          `replication slot "${slotName}" belongs to database "${existing.database}": give each database's relay its own name or slotName`,
        );
      }
      if (existing.wal_status === 'lost') throw new SlotLostError(slotName);
      if (existing.plugin !== 'pgoutput') {
        throw new OutboxError('SFG_OUTBOX_SLOT_PLUGIN', `replication slot "${slotName}" uses plugin ${existing.plugin}, not pgoutput`);
      }
      return;
    }
    const known = await client.query(`select 1 from ${ledger} where slot_name = $1`, [slotName]);
    if (known.rowCount) throw new SlotMissingError(slotName);
    await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slotName]);
    await client.query(`insert into ${ledger} (slot_name) values ($1)`, [slotName]);
    this.logger.info({ slot: slotName }, 'replication slot created');
  }

  private async refreshSlotLag(client: pg.Client): Promise<void> {
    const { rows } = await client.query<{ lag: string | null }>(
      'select (pg_current_wal_lsn() - confirmed_flush_lsn)::text as lag from pg_replication_slots where slot_name = $1',
      [this.options.slotName],
    );
    if (rows[0]?.lag != null) this.metrics.slotLag.set(Number(rows[0].lag));
  }

  protected async lead(session: LeaderSession): Promise<void> {
    const { options, logger } = this;
    await this.prepareSlot(session.client);
    const service = new LogicalReplicationService(
      { connectionString: options.connectionString, application_name: `strangler-relay-${options.name}-wal` },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    let failed!: (error: Error) => void;
    const failure = new Promise<never>((_, reject) => (failed = reject));
    failure.catch(() => undefined);

    let confirmed = 0n;
    let serverLsn = '0/0';
    let accepting = true;
    let paused = false;
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

    let transaction: { rows: OutboxRow[]; commitTimeMs: number } | undefined;
    service.on('data', (_lsn: string, message: Pgoutput.Message) => {
      if (!accepting) return;
      switch (message.tag) {
        case 'begin':
          transaction = { rows: [], commitTimeMs: Number(message.commitTime) / 1000 };
          return;
        case 'relation':
          // Keep every column as Postgres' text: the payload goes to Kafka exactly as stored, without a parse/stringify.
          for (const column of message.columns) column.parser = keepText;
          return;
        case 'insert':
          if (transaction && message.relation.name === options.table && message.relation.schema === options.schema) {
            transaction.rows.push(message.new as OutboxRow);
          }
          return;
        case 'commit': {
          const rows = transaction?.rows ?? [];
          const commitTimeMs = transaction?.commitTimeMs ?? Date.now();
          transaction = undefined;
          if (!message.commitEndLsn) return;
          if (rows.length === 0 && pipeline.idle) confirm(message.commitEndLsn);
          else pipeline.push({ rows, token: message.commitEndLsn, sourceTimeMs: commitTimeMs });
          if (!paused && pipeline.pendingEvents > options.batch.maxPendingEvents) {
            paused = true;
            replicationSocket(service)?.pause();
          }
          return;
        }
        default:
          return;
      }
    });
    // Keepalives carry the server's WAL position; when nothing is pending everything before it is done.
    service.on('heartbeat', (lsn: string) => {
      serverLsn = lsn;
      if (accepting && pipeline.idle && !transaction) confirm(lsn);
    });
    service.on('error', (error: Error) => failed(error));

    const heartbeat = setInterval(() => {
      if (!accepting) return;
      if (pipeline.idle && !transaction && parseLsn(serverLsn) > confirmed) confirm(serverLsn);
      // Repeat the confirmed position (never more) and ask for a keepalive: its LSN moves an idle slot forward.
      void service.acknowledge(beforeLsn(formatLsn(confirmed)), true).catch(() => undefined);
      this.refreshSlotLag(session.client).catch((error: unknown) => logger.debug({ err: error }, 'slot lag query failed'));
    }, options.heartbeatIntervalMs);
    heartbeat.unref();

    try {
      const started = new Promise<void>((resolve) => service.once('start', () => resolve()));
      const streaming = service.subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: [options.publicationName] }), options.slotName);
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
      transaction = undefined;
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
