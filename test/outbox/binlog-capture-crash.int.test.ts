import { parseRelayOptions } from '../../outbox';
import { collectRecords, createTestMysqlDatabase, testEnv, uniqueName, type CollectedRecord, type TestMysqlDatabase } from '../helpers';
import { assertPerKeyOrder, assertResentCopiesIdentical, createTopics, killLeaders, relayProcesses } from './support';

const STREAMING = /streaming from the binlog/;
const KEYS = 60;
const UPDATES_PER_KEY = 40;

/** Inserts the keys (n = 0), then two writers bump n key by key, 5 updates per transaction, until each key reached UPDATES_PER_KEY. */
async function writeCounters(db: TestMysqlDatabase, lastTransactionAfter: Promise<void>): Promise<void> {
  await db.pool.query(`insert into counters (id, n) values ${Array.from({ length: KEYS }, (_, index) => `(${index + 1}, 0)`).join(',')}`);
  await Promise.all(
    [0, 1].map(async (writer) => {
      const keys = Array.from({ length: KEYS }, (_, index) => index + 1).filter((key) => key % 2 === writer);
      const updates = Array.from({ length: UPDATES_PER_KEY }, () => keys).flat();
      for (let start = 0; start < updates.length; start += 5) {
        if (start + 5 >= updates.length) await lastTransactionAfter;
        const connection = await db.pool.getConnection();
        try {
          await connection.beginTransaction();
          for (const key of updates.slice(start, start + 5)) await connection.query('update counters set n = n + 1 where id = ?', [key]);
          await connection.commit();
        } finally {
          connection.release();
        }
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    }),
  );
}

const after = (record: CollectedRecord) => (JSON.parse(record.value!) as { after: { n: number } }).after;

describe('binlog capture as a process: hot standby takeover and kill -9 (real MariaDB and Kafka)', () => {
  let db: TestMysqlDatabase;
  const processes = relayProcesses();
  beforeAll(async () => {
    db = await createTestMysqlDatabase('sfg_binlog_crash', 6);
    await db.pool.query('create table counters (id int primary key, n int not null)');
  });
  afterEach(() => processes.cleanUp());
  afterAll(async () => {
    await db.drop();
  });

  it('standbys take over after each kill -9 of the leader, resuming from the last Kafka-acknowledged position: no change lost, per-key order kept, a re-sent change has the same id', async () => {
    const name = uniqueName('binc').slice(0, 40);
    const options = parseRelayOptions({
      name,
      mode: 'tables',
      connectionString: db.url,
      leadership: { retryIntervalMs: 200 },
      capture: { tables: ['counters'], topicPrefix: name.replace(/_/g, '-') },
      kafka: { brokers: testEnv().kafkaBrokers },
    });
    const config = processes.config(options);
    const topic = `${options.capture!.topicPrefix}.${db.name}.counters`;
    await createTopics([topic]);
    const spawn = () => processes.spawn(config);

    let allKilled!: () => void;
    let writes!: ReturnType<typeof writeCounters>;
    const { leader, standby, takeovers } = await killLeaders(spawn, processes, STREAMING, () => {
      writes = writeCounters(db, new Promise<void>((resolve) => (allKilled = resolve)));
    });
    allKilled();
    await writes;
    for (const takeover of takeovers) expect(takeover).toBeLessThan(5_000);

    const total = KEYS * (UPDATES_PER_KEY + 1);
    const records = await collectRecords({ topics: [topic], count: total, timeoutMs: 60_000, settleMs: 1_000, distinctBy: (record) => record.headers.id! });
    // Per key, n counts up from 0 without a gap (repeats after a crash allowed): no change was lost.
    assertPerKeyOrder(records, (record) => after(record).n);
    // A change sent again after a crash is the same change under the same id: same key, binlog position and row.
    assertResentCopiesIdentical(records, total, (record) => {
      const { source, after: row, op } = JSON.parse(record.value!) as { source: { file: string; pos: number; row: number; gtid: string }; after: unknown; op: string };
      return { key: record.key, file: source.file, pos: source.pos, row: source.row, gtid: source.gtid, image: row, op, headers: record.headers };
    });

    // The standby goes first, so that it cannot take the leader's place once the leader stops.
    standby.child.kill('SIGTERM');
    expect(await standby.exited).toBe(0);
    processes.forget(standby);
    leader.child.kill('SIGTERM');
    expect(await leader.exited).toBe(0);
    processes.forget(leader);
  });
});
