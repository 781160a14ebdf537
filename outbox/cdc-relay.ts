import type pg from 'pg';
import type { Pgoutput } from 'pg-logical-replication';
import { SlotMissingError } from './errors';
import type { OutboxRow } from './pipeline';
import { existingSlot, ReplicationSlotRelay, type TransactionDecoder } from './slot-stream';
import { qualified, quoteIdent } from './sql';

const keepText = (raw: unknown) => raw;

/**
 * Publishes outbox inserts from the WAL (logical replication, pgoutput) without re-reading rows. The slot's
 * confirmed position only moves past a transaction when all its events, and all before it, are acknowledged.
 */
export class CdcRelay extends ReplicationSlotRelay {
  /** Ensures the publication (inserts on the outbox table only) and the slot; refuses a lost or vanished slot. */
  protected async prepareSlot(client: pg.Client): Promise<void> {
    const { schema, table, slotName, publicationName } = this.options;
    const publication = await client.query('select 1 from pg_publication where pubname = $1', [publicationName]);
    if (publication.rowCount === 0) {
      await client.query(`create publication ${quoteIdent(publicationName)} for table ${qualified(schema, table)} with (publish = 'insert')`);
    }
    const ledger = qualified(schema, 'strangler_relay_slots');
    await client.query(`create table if not exists ${ledger} (slot_name varchar(63) primary key, created_at timestamptz not null default now())`);
    if (await existingSlot(client, slotName)) return;
    const known = await client.query(`select 1 from ${ledger} where slot_name = $1`, [slotName]);
    if (known.rowCount) throw new SlotMissingError(slotName);
    await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slotName]);
    await client.query(`insert into ${ledger} (slot_name) values ($1)`, [slotName]);
    this.logger.info({ slot: slotName }, 'replication slot created');
  }

  protected createDecoder(): TransactionDecoder {
    return new OutboxInsertDecoder(this.options.schema, this.options.table);
  }
}

/** Collects the outbox inserts of each transaction, every column as Postgres' text. */
class OutboxInsertDecoder implements TransactionDecoder {
  private rows: OutboxRow[] | undefined;

  constructor(
    private readonly schema: string,
    private readonly table: string,
  ) {}

  begin(): void {
    this.rows = [];
  }

  message(message: Pgoutput.Message): void {
    if (message.tag === 'relation') {
      // Keep every column as Postgres' text: the payload goes to Kafka exactly as stored, without a parse/stringify.
      for (const column of message.columns) column.parser = keepText;
    } else if (message.tag === 'insert' && this.rows && message.relation.name === this.table && message.relation.schema === this.schema) {
      this.rows.push(message.new as OutboxRow);
    }
  }

  commit(): OutboxRow[] {
    const rows = this.rows ?? [];
    this.rows = undefined;
    return rows;
  }

  reset(): void {
    this.rows = undefined;
  }
}
