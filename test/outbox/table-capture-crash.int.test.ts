import type { Pool } from 'pg';
import { collectRecords, createTestDatabase, type CollectedRecord, type TestDatabase } from '../helpers';
import { captureRelayOptions } from './capture-support';
import { assertPerKeyOrder, assertResentCopiesIdentical, createTopics, killLeaders, relayProcesses } from './support';

const STREAMING = /streaming from the replication slot/;
const KEYS = 60;
const UPDATES_PER_KEY = 40;

/** Inserts the keys (n = 0), then two writers bump n key by key, 5 updates per transaction, until each key reached UPDATES_PER_KEY. */
async function writeCounters(pool: Pool, lastTransactionAfter: Promise<void>): Promise<void> {
  await pool.query(`insert into app.counters (id, n) select id, 0 from generate_series(1, ${KEYS}) as id`);
  await Promise.all(
    [0, 1].map(async (writer) => {
      const keys = Array.from({ length: KEYS }, (_, index) => index + 1).filter((key) => key % 2 === writer);
      const updates = Array.from({ length: UPDATES_PER_KEY }, () => keys).flat();
      for (let start = 0; start < updates.length; start += 5) {
        if (start + 5 >= updates.length) await lastTransactionAfter;
        const client = await pool.connect();
        try {
          await client.query('begin');
          for (const key of updates.slice(start, start + 5)) await client.query('update app.counters set n = n + 1 where id = $1', [key]);
          await client.query('commit');
        } finally {
          client.release();
        }
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    }),
  );
}

const after = (record: CollectedRecord) => (JSON.parse(record.value!) as { after: { n: number } }).after;

describe('table-capture relay as a process: hot standby takeover and kill -9 (real Postgres and Kafka)', () => {
  let db: TestDatabase;
  const processes = relayProcesses();
  beforeAll(async () => {
    db = await createTestDatabase('sfg_capture_crash', { max: 6 });
    await db.pool.query('create schema app; create table app.counters (id int primary key, n int not null)');
  });
  afterEach(() => processes.cleanUp());
  afterAll(async () => {
    await db.drop();
  });

  it('standbys take over after each kill -9 of the leader; no change is lost and a re-sent change carries the same id', async () => {
    const options = captureRelayOptions(db, ['app.counters']);
    const config = processes.config(options);
    const topic = `${options.capture!.topicPrefix}.app.counters`;
    await createTopics([topic]);
    const spawn = () => processes.spawn(config);

    let allKilled!: () => void;
    let writes!: ReturnType<typeof writeCounters>;
    const { leader, standby, takeovers } = await killLeaders(spawn, processes, STREAMING, () => {
      writes = writeCounters(db.pool, new Promise<void>((resolve) => (allKilled = resolve)));
    });
    allKilled();
    await writes;
    for (const takeover of takeovers) expect(takeover).toBeLessThan(5_000);

    const total = KEYS * (UPDATES_PER_KEY + 1);
    const records = await collectRecords({ topics: [topic], count: total, timeoutMs: 60_000, settleMs: 1_000, distinctBy: (record) => record.headers.id! });
    // Per key, n counts up from 0 without a gap (repeats after a crash allowed): no change was lost.
    assertPerKeyOrder(records, (record) => after(record).n);
    // A change sent again after a crash is the same change under the same id: same key, position and row.
    assertResentCopiesIdentical(records, total, (record) => {
      const { source, after: row, op } = JSON.parse(record.value!) as { source: { lsn: number; txId: number }; after: unknown; op: string };
      return { key: record.key, lsn: source.lsn, txId: source.txId, row, op, headers: record.headers };
    });

    // The standby goes first, so that it cannot take the leader's place once the leader stops.
    standby.child.kill('SIGTERM');
    expect(await standby.exited).toBe(0);
    processes.forget(standby);
    leader.child.kill('SIGTERM');
    expect(await leader.exited).toBe(0);
    processes.forget(leader);
    // The leader confirmed everything it published before exiting.
    const pending = await db.pool.query(
      `select count(*)::int as n from pg_logical_slot_peek_binary_changes($1, null, null, 'proto_version', '1', 'publication_names', $2)`,
      [options.slotName, options.publicationName],
    );
    expect(pending.rows[0].n).toBe(0);
  });
});
