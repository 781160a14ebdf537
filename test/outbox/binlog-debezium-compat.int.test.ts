/**
 * Real Debezium (its MariaDB connector 3.5.0.Final, the newest on Maven Central, in Kafka Connect 4.1.1 standalone)
 * and our BinlogCaptureRelay capture the same MariaDB table and the same changes, each with its own topic prefix;
 * their records are compared one by one: same keys and tombstones, equal values except the fields that differ by
 * nature (source.version: ours names the Debezium release its Postgres records follow, 3.6.1; source.name is the
 * prefix; the envelope's ts_ms/ts_us/ts_ns are processing times). Everything else (every column type, source's
 * binlog file, pos, row, gtid, server_id, thread) must be the same.
 */
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import { startDebezium, type RunningDebezium } from '../../infra/debezium';
import { createRelay, parseRelayOptions, type Relay } from '../../outbox';
import { collectRecords, createTestMysqlDatabase, testEnv, uniqueName, type CollectedRecord, type TestMysqlDatabase } from '../helpers';
import { createTopics, quietLogger } from './support';

const CHANGES = [
  `insert into all_types values (1, 1, -5, 18446744073709551615, 9007199254740993, 1.1, 2.5, -12.50, 0.001, '2024-01-02', '2024-01-02 03:04:05',
    '2024-01-02 03:04:05.123', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05', '2024-01-02 03:04:05.120', '-01:02:03', '01:02:03.000004',
    2024, 'ab', 'héllo "q" ✓', 'text', x'0102', x'ff', '{"a": [1, "x"]}', 'b', 'x,y', b'1', b'00000011')`,
  'insert into all_types (id) values (2)',
  `insert into all_types (id, b, si, bu, big, n, small_n, dt, dtm, ts, tm) values
    (3, 0, 32767, 0, -9223372036854775808, 99999999.99, -0.009, '1969-12-31', '1969-12-31 23:59:59', '1970-01-01 00:00:01', '838:59:59')`,
  "update all_types set v = 'x', n = n + 1 where id = 1",
  "begin; update all_types set si = 1 where id = 2; insert into order_lines values (10, 20, 'x'), (10, 21, null); commit",
  'update all_types set id = 4 where id = 3',
  'delete from all_types where id = 2',
  "update order_lines set label = 'y' where order_id = 10",
  'delete from order_lines where order_id = 10 and line_no = 21',
];

/** A record as compared: key, and the value without the fields that differ by nature. */
function comparable(record: CollectedRecord): { topic: string; key: string | null; value: unknown } {
  const topic = record.topic.slice(record.topic.indexOf('.') + 1);
  if (record.value === null) return { topic, key: record.key, value: null };
  const { ts_ms: _ms, ts_us: _us, ts_ns: _ns, source, ...rest } = JSON.parse(record.value) as Record<string, unknown> & { source: Record<string, unknown> };
  const { version: _version, name: _name, ...where } = source;
  return { topic, key: record.key, value: { ...rest, source: where } };
}

describe('binlog capture side by side with Debezium (its MariaDB connector, real MariaDB and Kafka)', () => {
  let db: TestMysqlDatabase;
  let debezium: RunningDebezium | undefined;
  let relay: Relay | undefined;
  beforeAll(async () => {
    db = await createTestMysqlDatabase('sfg_binlog_dbz');
    await db.pool.query(`
      create table all_types (id int primary key, b tinyint(1), si smallint, bu bigint unsigned, big bigint, f float, d double,
        n decimal(10,2), small_n decimal(6,3), dt date, dtm datetime, dtm3 datetime(3), dtm6 datetime(6), ts timestamp null,
        ts3 timestamp(3) null, tm time, tm6 time(6), y year, c char(3), v varchar(40), tx text, bl blob, vb varbinary(4), j json,
        e enum('a','b'), s set('x','y'), bt bit(1), bt8 bit(8));
      create table order_lines (order_id bigint, line_no int, label varchar(20), primary key (order_id, line_no));`);
  });
  afterAll(async () => {
    await relay?.stop();
    await debezium?.stop();
    await db.drop();
  });

  it('sends the same records as Debezium for every common column type, a transaction, a key change and deletes', async () => {
    const name = uniqueName('bdz').slice(0, 40);
    const prefixes = { debezium: `${name.replace(/_/g, '-')}-dbz`, ours: `${name.replace(/_/g, '-')}-sfg` };
    const tables = [`${db.name}.all_types`, `${db.name}.order_lines`];
    const topics = (prefix: string) => tables.map((table) => `${prefix}.${table}`);
    await createTopics([...topics(prefixes.debezium), ...topics(prefixes.ours)], 1);
    debezium = await startDebezium({
      name: 'compat',
      databaseUrl: db.url,
      topicPrefix: prefixes.debezium,
      tables,
      slotName: '',
      publicationName: '',
      log: (line) => process.stderr.write(`[binlog-debezium-compat] ${line}\n`),
    });
    relay = createRelay(
      parseRelayOptions({ name, mode: 'tables', connectionString: db.url, capture: { tables, topicPrefix: prefixes.ours }, kafka: { brokers: testEnv().kafkaBrokers } }),
      { logger: quietLogger, registry: new Registry() },
    );
    await relay.start();
    // Debezium's task is RUNNING before its binlog client streams: a probe row, seen by both, says they do.
    const probe = await mysql.createConnection({ uri: db.url });
    const isProbe = (record: CollectedRecord) => record.key === '{"order_id":0,"line_no":0}';
    for (let attempt = 0; ; attempt += 1) {
      await probe.query(`insert into order_lines values (0, 0, 'probe ${attempt}') on duplicate key update label = values(label)`);
      const seen = await collectRecords({ topics: topics(prefixes.debezium), count: 1, timeoutMs: 5_000 }).then(
        () => true,
        () => false,
      );
      if (seen || attempt === 20) break;
    }
    await probe.query('delete from order_lines where order_id = 0');
    await probe.end();
    const before = {
      debezium: (await collectRecords({ topics: topics(prefixes.debezium), count: 1, settleMs: 2_000 })).length,
      ours: (await collectRecords({ topics: topics(prefixes.ours), count: 1, settleMs: 2_000 })).length,
    };
    for (const statement of CHANGES) {
      const connection = await db.pool.getConnection();
      try {
        for (const part of statement.split(/;\s*/).filter(Boolean)) await connection.query(part);
      } finally {
        connection.release();
      }
    }
    // 3 inserts, 1 update, the transaction's 3, the key change's 3 (delete, tombstone, create), a delete and its
    // tombstone, 2 updates, a delete and its tombstone: 16 records each, after the probe's.
    const expected = 16;
    const theirs = (await collectRecords({ topics: topics(prefixes.debezium), count: before.debezium + expected, timeoutMs: 90_000, settleMs: 1_000 })).filter((record) => !isProbe(record));
    const ours = (await collectRecords({ topics: topics(prefixes.ours), count: before.ours + expected, timeoutMs: 30_000, settleMs: 1_000 })).filter((record) => !isProbe(record));
    // One partition a topic: each topic's records in binlog order; the topics are compared one after the other.
    const order = (records: CollectedRecord[]) => records.map(comparable).sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
    expect(ours).toHaveLength(expected);
    expect(theirs).toHaveLength(expected);
    expect(order(ours)).toEqual(order(theirs));
  });
});
