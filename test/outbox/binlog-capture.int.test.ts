import { Registry } from 'prom-client';
import { binlogEventId, CapturePreflightError, createRelay, parseRelayOptions, type RelayOptions } from '../../outbox';
import { collectRecords, createTestMysqlDatabase, eventually, testEnv, uniqueName, type CollectedRecord, type TestMysqlDatabase } from '../helpers';
import { createTopics, quietLogger, startRelay } from './support';

/** Relay options of mode tables on the test MySQL database: unique name (position key, lock) and topic prefix. */
function binlogRelayOptions(db: TestMysqlDatabase, tables: string[], url = db.url): RelayOptions {
  const name = uniqueName('bin').slice(0, 40);
  return parseRelayOptions({
    name,
    mode: 'tables',
    connectionString: url,
    leadership: { retryIntervalMs: 200 },
    capture: { tables, topicPrefix: name.replace(/_/g, '-') },
    kafka: { brokers: testEnv().kafkaBrokers },
  });
}

interface Envelope {
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: Record<string, unknown>;
  op: string;
  ts_ms: number;
  transaction: null;
}
const envelope = (record: CollectedRecord) => JSON.parse(record.value!) as Envelope;

async function tablesOf(db: TestMysqlDatabase): Promise<string[]> {
  const [rows] = await db.pool.query<import('mysql2').RowDataPacket[]>('select table_name as name from information_schema.tables where table_schema = ? order by 1', [db.name]);
  return rows.map((row) => String(row.name));
}

describe('binlog capture (mode tables on MariaDB): Debezium MySQL records of real changes (real MariaDB and Kafka)', () => {
  let db: TestMysqlDatabase;
  beforeAll(async () => {
    db = await createTestMysqlDatabase('sfg_binlog');
    await db.pool.query(`
      create table order_lines (
        order_id bigint, line_no int, label varchar(40) not null, qty int not null default 1, price decimal(10,2),
        flag tinyint(1), created datetime(3), changed timestamp(6) null, day date, doc json, ratio float, big bigint unsigned,
        primary key (order_id, line_no));
      create table Customers (id int primary key, name varchar(40));
      insert into order_lines (order_id, line_no, label) values (99, 1, 'written before the relay ever ran');`);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('publishes inserts, updates (a key change too) and deletes as Debezium envelopes keyed by the primary key, adding nothing to the database', async () => {
    const tablesBefore = await tablesOf(db);
    const options = binlogRelayOptions(db, [`${db.name}.order_lines`, 'Customers']);
    const prefix = options.capture!.topicPrefix;
    const lines = `${prefix}.${db.name}.order_lines`;
    const customers = `${prefix}.${db.name}.Customers`;
    await createTopics([lines, customers], 1); // one partition: the records in binlog order
    const registry = new Registry();
    const { relay } = await startRelay(options, registry);
    try {
      expect(relay.isLeader).toBe(true);
      await db.pool.query(`insert into order_lines (order_id, line_no, label, qty, price, flag, created, changed, day, doc, ratio, big) values
        (1, 1, 'first', 2, -12.50, 1, '2024-01-02 03:04:05.123', '2024-01-02 03:04:05.654321', '2024-01-02', '{"a": [1, "x"]}', 1.1, 18446744073709551615),
        (1, 2, 'sécond', 1, 3.00, 0, null, null, null, null, null, null)`);
      await db.pool.query(`update order_lines set qty = 3 where order_id = 1 and line_no = 1`);
      await db.pool.query(`update order_lines set order_id = 2 where order_id = 1 and line_no = 2`);
      await db.pool.query(`insert into Customers values (7, 'Zoë')`);
      await db.pool.query(`delete from order_lines where order_id = 2 and line_no = 2`);
      await db.pool.query(`truncate table Customers`);

      const records = await collectRecords({ topics: [lines, customers], count: 9, timeoutMs: 30_000, settleMs: 500 });
      expect(records).toHaveLength(9);
      const lineRecords = records.filter((record) => record.topic === lines);
      expect(lineRecords.map((record) => [record.key, record.headers.type ?? 'tombstone'])).toEqual([
        ['{"order_id":1,"line_no":1}', 'c'],
        ['{"order_id":1,"line_no":2}', 'c'],
        ['{"order_id":1,"line_no":1}', 'u'],
        ['{"order_id":1,"line_no":2}', 'd'],
        ['{"order_id":1,"line_no":2}', 'tombstone'],
        ['{"order_id":2,"line_no":2}', 'c'],
        ['{"order_id":2,"line_no":2}', 'd'],
        ['{"order_id":2,"line_no":2}', 'tombstone'],
      ]);
      const [insert1, insert2, update, keyDelete, keyTombstone, keyCreate, deleted, tombstone] = lineRecords as [CollectedRecord, CollectedRecord, CollectedRecord, CollectedRecord, CollectedRecord, CollectedRecord, CollectedRecord, CollectedRecord];
      // Types as Debezium's MySQL connector writes them with its defaults.
      expect(envelope(insert1).after).toEqual({
        order_id: 1, line_no: 1, label: 'first', qty: 2,
        price: '+x4=', // decimal(10,2) -12.50: base64 of the unscaled -1250 (0xfb1e)
        flag: 1, // tinyint(1): INT16
        created: 1704164645123, // datetime(3): epoch ms
        changed: '2024-01-02T03:04:05.654321Z', // timestamp(6): ISO-8601 UTC
        day: 19724, // date: epoch days
        doc: '{"a": [1, "x"]}', // json: the document as a string
        ratio: 1.1, // float: FLOAT32
        big: -1, // bigint unsigned past 2^63-1 wraps (bigint.unsigned.handling.mode=long)
      });
      expect(envelope(insert1).before).toBeNull();
      expect(envelope(insert2).after).toMatchObject({ label: 'sécond', created: null, changed: null, doc: null });
      expect(envelope(update).op).toBe('u');
      expect(envelope(update).before).toMatchObject({ qty: 2 });
      expect(envelope(update).after).toMatchObject({ qty: 3 });
      // A key change: a delete of the old key and its tombstone naming the new key, then a create naming the old one.
      expect(envelope(keyDelete).after).toBeNull();
      expect(keyDelete.headers['__debezium.newkey']).toBe('{"order_id":2,"line_no":2}');
      expect(keyTombstone.value).toBeNull();
      expect(keyCreate.headers['__debezium.oldkey']).toBe('{"order_id":1,"line_no":2}');
      expect(envelope(keyCreate).after).toMatchObject({ order_id: 2, line_no: 2 });
      expect(envelope(deleted).before).toMatchObject({ order_id: 2, label: 'sécond' });
      expect(tombstone.value).toBeNull();

      const source = envelope(insert1).source;
      expect(source).toMatchObject({
        version: '3.6.1.Final',
        connector: 'mariadb',
        name: prefix,
        snapshot: 'false',
        db: db.name,
        sequence: null,
        table: 'order_lines',
        server_id: 1,
        row: 0,
        thread: null,
        query: null,
      });
      expect(Object.keys(source)).toEqual(['version', 'connector', 'name', 'ts_ms', 'snapshot', 'db', 'sequence', 'ts_us', 'ts_ns', 'table', 'server_id', 'gtid', 'file', 'pos', 'row', 'thread', 'query']);
      expect(source.gtid).toMatch(/^\d+-1-\d+$/);
      expect(source.file).toMatch(/\.\d{6}$/);
      expect(source.pos).toEqual(expect.any(Number));
      expect(envelope(insert2).source).toMatchObject({ pos: source.pos, row: 1, gtid: source.gtid });
      expect(Object.keys(envelope(insert1))).toEqual(['before', 'after', 'source', 'transaction', 'op', 'ts_ms', 'ts_us', 'ts_ns']);
      // Each record's id is derivable from the record itself, as from a Debezium record.
      for (const record of lineRecords) {
        const op = record.headers.type ?? 'tombstone';
        const { source: where } = record.value ? envelope(record) : envelope(lineRecords[lineRecords.indexOf(record) - 1]!);
        expect(record.headers).toMatchObject({ origin: 'legacy', file: where.file, pos: String(where.pos), gtid: where.gtid });
        expect(record.headers.id).toBe(
          binlogEventId({ db: db.name, table: 'order_lines', file: String(where.file), pos: where.pos as number, row: where.row as number, op, key: record.key! }),
        );
      }
      const customer = records.find((record) => record.topic === customers)!;
      expect(customer.key).toBe('{"id":7}');
      expect(envelope(customer).after).toEqual({ id: 7, name: 'Zoë' });
      // TRUNCATE publishes nothing (as Debezium by default) and is counted.
      const truncates = await eventually(async () => {
        const metric = await registry.getSingleMetric('strangler_capture_truncates_skipped_total')?.get();
        return metric?.values.find((value) => value.labels.table === `${db.name}.Customers`)?.value;
      }, 10_000, 'the skipped TRUNCATE counted');
      expect(truncates).toBe(1);
      // The row written before the relay's first start is not captured (the first start begins at the binlog's end).
      expect(records.some((record) => record.key === '{"order_id":99,"line_no":1}')).toBe(false);
      expect(await tablesOf(db)).toEqual(tablesBefore);
    } finally {
      await relay.stop();
    }
  });

  it('resumes where Kafka acknowledged after a stop, and a standby takes over when the leader stops', async () => {
    await db.pool.query('create table counters (id int primary key, n int not null)');
    const options = binlogRelayOptions(db, ['counters']);
    const topic = `${options.capture!.topicPrefix}.${db.name}.counters`;
    await createTopics([topic], 1);
    const first = await startRelay(options);
    const standby = await startRelay(options);
    expect(first.relay.isLeader).toBe(true);
    expect(standby.relay.isLeader).toBe(false);
    try {
      await db.pool.query('insert into counters values (1, 0), (2, 0)');
      await collectRecords({ topics: [topic], count: 2, timeoutMs: 20_000 });
      await first.relay.stop();
      // Written while no relay leads: the standby takes over from the saved position.
      await db.pool.query('update counters set n = 1 where id = 1');
      await eventually(() => standby.relay.isLeader, 15_000, 'the standby leading');
      await db.pool.query('update counters set n = 1 where id = 2');
      await standby.relay.stop();
      await db.pool.query('update counters set n = 2');
      const again = await startRelay(options);
      try {
        const records = await collectRecords({ topics: [topic], count: 6, timeoutMs: 20_000, settleMs: 1_000 });
        // Every change exactly once: the position is saved past what Kafka acknowledged, before each stop returned.
        expect(records.map((record) => `${record.key} ${JSON.stringify(envelope(record).after)}`)).toEqual([
          '{"id":1} {"id":1,"n":0}',
          '{"id":2} {"id":2,"n":0}',
          '{"id":1} {"id":1,"n":1}',
          '{"id":2} {"id":2,"n":1}',
          '{"id":1} {"id":1,"n":2}',
          '{"id":2} {"id":2,"n":2}',
        ]);
      } finally {
        await again.relay.stop();
      }
    } finally {
      await first.relay.stop();
      await standby.relay.stop();
    }
  });

  it('refuses to start, naming every problem at once with the statement to run', async () => {
    await db.pool.query(`create table no_key (a int, b int); create view a_view as select 1 as x`);
    const user = `sfg_norepl_${process.pid}`;
    await db.pool.query(`create user if not exists '${user}'@'%' identified by 'pw'; grant select on \`${db.name}\`.* to '${user}'@'%'`);
    try {
      const url = new URL(db.url);
      url.username = user;
      url.password = 'pw';
      const options = binlogRelayOptions(db, ['no_key', 'a_view', 'missing', 'order_lines'], url.toString());
      const error = await startRelay(options).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(CapturePreflightError);
      const problems = (error as CapturePreflightError).problems;
      expect(problems.map((problem) => [problem.code, problem.table])).toEqual([
        ['SFG_CAPTURE_PRIVILEGE', undefined],
        ['SFG_CAPTURE_NO_PRIMARY_KEY', `${db.name}.no_key`],
        ['SFG_CAPTURE_NOT_A_TABLE', `${db.name}.a_view`],
        ['SFG_CAPTURE_TABLE_MISSING', `${db.name}.missing`],
      ]);
      expect(problems[0]!.message).toContain(`GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${user}'@'%'`);
      expect(problems[1]!.message).toContain(`ALTER TABLE \`${db.name}\`.\`no_key\` ADD PRIMARY KEY`);
    } finally {
      await db.pool.query(`drop user if exists '${user}'@'%'`);
    }
  });
});

describe('binlog capture: a saved position the server cannot serve (real MariaDB and Kafka)', () => {
  let db: TestMysqlDatabase;
  beforeAll(async () => {
    db = await createTestMysqlDatabase('sfg_binlog_pos');
    await db.pool.query('create table items (id int primary key, n int)');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('stops with SFG_CAPTURE_BINLOG_PURGED on a purged file and SFG_CAPTURE_POSITION_OTHER_SERVER on another server\'s position; --forget-position starts it afresh', async () => {
    const options = binlogRelayOptions(db, ['items']);
    const topic = `${options.capture!.topicPrefix}.${db.name}.items`;
    await createTopics([topic], 1);
    const first = await startRelay(options);
    const [[server]] = await db.pool.query<import('mysql2').RowDataPacket[]>('select cast(@@server_id as char) as id');
    await first.relay.stop();
    const forger = await startRelay(options);
    await forger.relay.stop();
    const relayOf = (relay: unknown) => relay as import('../../outbox').BinlogCaptureRelay;
    const publisher = (relay: unknown) => (relay as { publisher: import('../../outbox').Publisher }).publisher;
    const save = async (position: object) => {
      const store = relayOf(forger.relay).positions;
      await publisher(forger.relay).connect();
      try {
        await store.save(publisher(forger.relay), position as never);
      } finally {
        await publisher(forger.relay).disconnect();
      }
    };

    await save({ file: 'mariadb-bin.999999', pos: 4, gtid: null, server: String(server!.id) });
    const purged = await startRelay(options);
    const purgedError = await purged.relay.done;
    await purged.relay.stop();
    expect(purgedError).toMatchObject({ code: 'SFG_CAPTURE_BINLOG_PURGED', retriable: false });
    expect(purgedError!.message).toContain('strangler relay --mode tables --forget-position');

    await save({ file: 'mariadb-bin.000001', pos: 4, gtid: null, server: 'another-server' });
    // Refused at start: the relay never leads.
    const other = createRelay(options, { logger: quietLogger, registry: new Registry() });
    await expect(other.start()).rejects.toMatchObject({ code: 'SFG_CAPTURE_POSITION_OTHER_SERVER', retriable: false });
    await other.stop();

    await relayOf(forger.relay).forgetPosition();
    const fresh = await startRelay(options);
    try {
      expect(fresh.relay.isLeader).toBe(true);
      await db.pool.query('insert into items values (1, 1)');
      const records = await collectRecords({ topics: [topic], count: 1, timeoutMs: 20_000, settleMs: 500 });
      expect(records.map((record) => record.key)).toEqual(['{"id":1}']);
    } finally {
      await fresh.relay.stop();
    }
  });
});
