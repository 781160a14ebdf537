import pg from 'pg';
import { forgetCaptureSlot } from './capture/slot';
import { OutboxError } from './errors';
import type { RelayOptions } from './options';
import { qualified } from './sql';

export interface SlotReset {
  slot: string;
  /** `wal_status` of the slot that was dropped; undefined when there was no slot (a vanished one). */
  droppedWalStatus?: string;
  /** Whether the relay's record of having created the slot (its ledger row, or its line in the capture publication's comment) was removed. */
  forgotten: boolean;
}

/**
 * The recovery step after `SFG_OUTBOX_SLOT_LOST` or `SFG_OUTBOX_SLOT_MISSING`, once the consumers are reconciled:
 * drops the CDC or table-capture relay's slot and forgets it, so the next start creates a new slot that captures from then on.
 * Refuses a slot a running relay streams from, a slot of another database, and (unless `force`) a healthy slot,
 * whose events would be skipped.
 */
export async function resetReplicationSlot(
  options: Pick<RelayOptions, 'connectionString' | 'schema' | 'slotName'> & Partial<Pick<RelayOptions, 'mode' | 'publicationName'>>,
  { force = false }: { force?: boolean } = {},
): Promise<SlotReset> {
  const { slotName } = options;
  const client = new pg.Client({ connectionString: options.connectionString, application_name: 'strangler-relay-slot-reset' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const [slot] = (
      await client.query<{ wal_status: string | null; active: boolean; database: string; ours: boolean }>(
        'select wal_status, active, database, database = current_database() as ours from pg_replication_slots where slot_name = $1',
        [slotName],
      )
    ).rows;
    if (slot && !slot.ours) {
      throw new OutboxError('SFG_OUTBOX_SLOT_IN_OTHER_DATABASE', `replication slot "${slotName}" belongs to database "${slot.database}": not resetting it from here`);
    }
    if (slot?.active) throw new OutboxError('SFG_OUTBOX_SLOT_ACTIVE', `replication slot "${slotName}" is in use by a running relay: stop every relay instance first`);
    if (slot && slot.wal_status !== 'lost' && !force) {
      throw new OutboxError(
        'SFG_OUTBOX_SLOT_HEALTHY',
        `replication slot "${slotName}" is healthy (wal_status '${slot.wal_status}'): resetting it would skip the events it still holds; pass force to do it anyway`,
      );
    }
    if (slot) await client.query('select pg_drop_replication_slot($1)', [slotName]);
    const forgotten = options.mode === 'tables' ? await forgetCaptureSlot(client, options.publicationName ?? `strangler_capture`, slotName) : await forgetLedgerRow(client, options.schema, slotName);
    return { slot: slotName, ...(slot ? { droppedWalStatus: slot.wal_status ?? 'unknown' } : {}), forgotten };
  } finally {
    await client.end();
  }
}

async function forgetLedgerRow(client: pg.Client, schema: string, slotName: string): Promise<boolean> {
  const ledger = qualified(schema, 'strangler_relay_slots');
  const ledgerExists = (await client.query('select to_regclass($1) is not null as present', [ledger])).rows[0]?.present as boolean;
  return ledgerExists ? ((await client.query(`delete from ${ledger} where slot_name = $1`, [slotName])).rowCount ?? 0) > 0 : false;
}
