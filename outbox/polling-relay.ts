import type { Migration } from './migrations';
import { LeaderElectedRelay, type LeaderSession } from './leadership';
import { PublishPipeline, type OutboxRow } from './pipeline';
import { qualified, quoteIdent } from './sql';

/**
 * Bookkeeping the polling relay adds to the outbox table (the contract columns stay untouched):
 * - `relay_seq`, filled from a sequence at insert, orders rows the way they were written;
 * - a statement-level trigger that NOTIFYs the relay when a transaction with outbox rows commits.
 */
export function pollingMigrations(options: { schema?: string; table?: string } = {}): Migration[] {
  const schema = options.schema ?? 'public';
  const table = options.table ?? 'outbox';
  const target = qualified(schema, table);
  const notify = qualified(schema, `${table}_notify_relay`);
  return [
    {
      id: `101_${table}_polling`,
      sql: `
        alter table ${target} add column if not exists relay_seq bigserial;
        create index if not exists ${quoteIdent(`${table}_relay_seq_idx`)} on ${target} (relay_seq);
        create or replace function ${notify}() returns trigger language plpgsql as $$
          begin perform pg_notify(${quoteLiteral(notifyChannel(schema, table))}, ''); return null; end $$;
        drop trigger if exists ${quoteIdent(`${table}_notify_relay`)} on ${target};
        create trigger ${quoteIdent(`${table}_notify_relay`)} after insert on ${target}
          for each statement execute function ${notify}();`,
    },
  ];
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function notifyChannel(schema: string, table: string): string {
  return `strangler_outbox_${schema}_${table}`.slice(0, 63);
}

/**
 * Publishes outbox rows by reading the table, for databases without logical replication. The table is the queue:
 * a row is deleted only after Kafka acknowledged it, so there is no cursor to move past a transaction that
 * commits late (out of order); its rows are simply found by a later poll. Rows go out in relay_seq order, one poll
 * at a time, by the single leader.
 */
export class PollingRelay extends LeaderElectedRelay {
  protected override extraMigrations(): Migration[] {
    return pollingMigrations({ schema: this.options.schema, table: this.options.table });
  }

  protected async lead(session: LeaderSession): Promise<void> {
    const { options, logger } = this;
    const { client } = session;
    const table = qualified(options.schema, options.table);
    const select = `select id::text, aggregatetype, aggregateid, type, payload::text as payload, headers::text as headers,
        extract(epoch from created_at) * 1000 as created_ms
      from ${table} order by relay_seq limit $1`;
    const remove = `delete from ${table} where id = any($1::uuid[])`;
    const count = `select count(*)::int as n from ${table}`;

    let failed!: (error: Error) => void;
    const failure = new Promise<never>((_, reject) => (failed = reject));
    failure.catch(() => undefined);
    let wake: () => void = () => undefined;
    // A NOTIFY that arrives while a poll is in flight must not be lost: the next wait is skipped.
    let notified = false;
    const onNotification = () => {
      notified = true;
      wake();
    };
    client.on('notification', onNotification);
    await client.query(`listen ${quoteIdent(notifyChannel(options.schema, options.table))}`);

    let acked: () => void = () => undefined;
    const pipeline = new PublishPipeline<string[]>(options, {
      publisher: this.publisher,
      metrics: this.metrics,
      logger,
      onAcked: async (ids) => {
        await client.query(remove, [ids]);
        acked();
      },
      onFailure: failed,
      reportsBacklog: false,
    });
    this.pipeline = pipeline as PublishPipeline<unknown>;
    let stopping = false;
    void session.stopRequested.then(() => {
      stopping = true;
      wake();
    });
    const interrupted = Promise.race([session.lost, failure]);
    interrupted.catch(() => undefined);
    this.announceLeading();

    try {
      while (!stopping) {
        notified = false;
        const { rows } = await Promise.race([client.query<OutboxRow & { created_ms: string }>(select, [options.polling.batchSize]), interrupted]);
        if (rows.length > 0) {
          const done = new Promise<void>((resolve) => (acked = resolve));
          let oldest = Number.POSITIVE_INFINITY;
          for (const row of rows) oldest = Math.min(oldest, Number(row.created_ms));
          // Unpublished rows: a full batch means more may wait behind it.
          const backlog = rows.length < options.polling.batchSize ? rows.length : (await client.query<{ n: number }>(count)).rows[0]!.n;
          this.metrics.backlog.set(backlog);
          pipeline.push({ rows, token: rows.map((row) => row.id), sourceTimeMs: oldest });
          // stop() lets this finish (up to stopTimeoutMs, after which the pipeline aborts and `interrupted` rejects).
          await Promise.race([done, interrupted]);
          this.metrics.backlog.set(Math.max(0, backlog - rows.length));
        } else {
          this.metrics.backlog.set(0);
          pipeline.refreshLag();
        }
        if (rows.length < options.polling.batchSize && !stopping && !notified) {
          await Promise.race([new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, options.polling.intervalMs).unref();
          }), interrupted]);
        }
      }
    } catch (error) {
      pipeline.abort();
      throw error;
    } finally {
      client.off('notification', onNotification);
    }
  }
}
