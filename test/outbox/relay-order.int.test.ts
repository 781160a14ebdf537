import { collectRecords, type TestDatabase } from '../helpers';
import { createOutboxDatabase, assertComplete, createTopics, startRelay, testRelayOptions, writeWorkload, type Workload } from './support';

describe('CDC relay: order and completeness under concurrent writers (real Postgres and Kafka)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_outbox_order', { max: 12 });
  });
  afterAll(async () => {
    await db.drop();
  });

  it('delivers 20,000 events over 500 aggregates from 8 concurrent writers, each aggregate in order', async () => {
    const options = testRelayOptions(db);
    const workload: Workload = { aggregateType: 'Account', aggregates: 500, eventsPerAggregate: 40, writers: 8, perTransaction: 50 };
    const topic = `${options.topicPrefix}${workload.aggregateType}`;
    await createTopics([topic]);
    const { relay } = await startRelay(options);
    try {
      const collecting = collectRecords({ topics: [topic], count: 20_000, timeoutMs: 90_000, settleMs: 1_000 });
      expect(await writeWorkload(db.pool, workload)).toBe(20_000);
      const records = await collecting;
      // No crash here: nothing may arrive twice.
      expect(assertComplete(records, workload)).toBe(0);
      expect(records).toHaveLength(20_000);
    } finally {
      await relay.stop();
    }
    // After a graceful stop the slot is confirmed up to the last event: a restart re-sends nothing.
    const { rows } = await db.pool.query(
      `select pg_current_wal_lsn() >= confirmed_flush_lsn as behind_or_equal,
              (select count(*) from pg_logical_slot_peek_binary_changes($1, null, null, 'proto_version', '1', 'publication_names', $2))::int as pending
         from pg_replication_slots where slot_name = $1`,
      [options.slotName, options.publicationName],
    );
    expect(rows[0]).toEqual({ behind_or_equal: true, pending: 0 });
  });
});
