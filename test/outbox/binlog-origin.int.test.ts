import type { PoolConnection } from 'mysql2/promise';
import { markMysqlStatement, parseRelayOptions, prepareMysqlOriginSession, type RelayOptions } from '../../outbox';
import { binlogPreflight } from '../../outbox/capture';
import { collectRecords, createTestMysqlDatabase, testEnv, uniqueName, type CollectedRecord, type TestMysqlDatabase } from '../helpers';
import { createTopics, startRelay } from './support';

function binlogRelayOptions(db: TestMysqlDatabase, tables: string[]): RelayOptions {
  const name = uniqueName('bino').slice(0, 40);
  return parseRelayOptions({
    name,
    mode: 'tables',
    connectionString: db.url,
    leadership: { retryIntervalMs: 200 },
    capture: { tables, topicPrefix: name.replace(/_/g, '-') },
    kafka: { brokers: testEnv().kafkaBrokers },
  });
}

const envelope = (record: CollectedRecord) => JSON.parse(record.value!) as { source: Record<string, unknown>; after: Record<string, unknown> | null; op: string };

describe('binlog capture: write-backs marked with their origin (real MariaDB and Kafka)', () => {
  let db: TestMysqlDatabase;
  let connection: PoolConnection;
  beforeAll(async () => {
    db = await createTestMysqlDatabase('sfg_binlog_origin');
    await db.pool.query('create table items (id int primary key, n int not null); create table notes (id int primary key, body varchar(200))');
    connection = await db.pool.getConnection();
  });
  afterAll(async () => {
    connection.release();
    await db.drop();
  });

  it('tags every change of a transaction with a marked statement with its origin; unmarked transactions around it keep the default', async () => {
    const options = binlogRelayOptions(db, ['items', 'notes']);
    const items = `${options.capture!.topicPrefix}.${db.name}.items`;
    const notes = `${options.capture!.topicPrefix}.${db.name}.notes`;
    await createTopics([items, notes], 1);
    // MariaDB logs statement text by default (binlog_annotate_row_events=ON): the preflight warns of nothing and the
    // session helper leaves the session as it is.
    expect((await binlogPreflight(connection, [])).warnings).toEqual([]);
    await prepareMysqlOriginSession(connection);
    const { relay } = await startRelay(options);
    const transaction = async (statements: string[]) => {
      await connection.query('begin');
      for (const statement of statements) await connection.query(statement);
      await connection.query('commit');
    };
    try {
      // 1. A write-back: every statement marked, two tables, an insert, an update and a delete (and its tombstone).
      await transaction([
        markMysqlStatement('insert into items values (1, 0), (2, 0)', 'tickets'),
        markMysqlStatement('update items set n = 1 where id = 1', 'tickets'),
        markMysqlStatement("insert into notes values (1, 'from the service')", 'tickets'),
        markMysqlStatement('delete from items where id = 2', 'tickets'),
      ]);
      // 2. Right after, the legacy's own write, unmarked: back to the default.
      await transaction(['insert into items values (3, 0)', 'update items set n = 2 where id = 1']);
      // 3. Mixed: one marked statement makes the whole transaction the write-back's (the marker is transactional).
      await transaction(['insert into items values (4, 0)', markMysqlStatement('update items set n = 3 where id = 1', 'tickets'), 'insert into notes values (2, null)']);
      // 4. Autocommit: a marked statement alone, then an unmarked one, then a user's text that looks like a marker.
      await connection.query(markMysqlStatement('update items set n = 4 where id = 4', 'tickets'));
      await connection.query('update items set n = 5 where id = 4');
      await connection.query("insert into notes values (3, '/* strangler.origin=tickets */')");

      const records = await collectRecords({ topics: [items, notes], count: 14, timeoutMs: 30_000, settleMs: 1_000 });
      const summary = (topic: string) =>
        records.filter((record) => record.topic === topic).map((record) => `${record.key} ${record.headers.type ?? 'tombstone'} ${record.headers.origin}`);
      expect(summary(items)).toEqual([
        '{"id":1} c tickets',
        '{"id":2} c tickets',
        '{"id":1} u tickets',
        '{"id":2} d tickets',
        '{"id":2} tombstone tickets',
        '{"id":3} c legacy',
        '{"id":1} u legacy',
        '{"id":4} c tickets',
        '{"id":1} u tickets',
        '{"id":4} u tickets',
        '{"id":4} u legacy',
      ]);
      expect(summary(notes)).toEqual(['{"id":1} c tickets', '{"id":2} c tickets', '{"id":3} c legacy']);

      // Otherwise the records are unchanged: the same headers and envelope as an unmarked change, source.query null.
      const byKeyOp = (key: string, op: string, origin: string) =>
        records.find((record) => record.topic === items && record.key === key && record.headers.type === op && record.headers.origin === origin)!;
      const marked = byKeyOp('{"id":1}', 'u', 'tickets');
      const unmarked = byKeyOp('{"id":1}', 'u', 'legacy');
      expect(Object.keys(marked.headers).sort()).toEqual(Object.keys(unmarked.headers).sort());
      expect(Object.keys(envelope(marked))).toEqual(Object.keys(envelope(unmarked)));
      expect(Object.keys(envelope(marked).source)).toEqual(Object.keys(envelope(unmarked).source));
      expect(envelope(marked).source.query).toBeNull();
      expect(envelope(marked).after).toEqual({ id: 1, n: 1 });
      expect(new Set(records.map((record) => record.headers.id)).size).toBe(records.length);
    } finally {
      await relay.stop();
    }
  });
});
