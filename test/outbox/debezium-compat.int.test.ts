/**
 * Real Debezium 3.6.1 (Postgres connector, pgoutput, Kafka Connect standalone) and our TableCaptureRelay capture the
 * same tables and the same changes, each with its own publication and slot and topic prefix; their records are
 * compared record by record (compareCaptures): same topics after the prefix, same key bytes, equal values except
 * the fields that differ by nature (source.name is the prefix; envelope ts_ms/ts_us/ts_ns are processing times;
 * source.sequence's first element on Debezium's very first transaction), Debezium's context headers and our own
 * headers. Any other difference fails the test (source.version included). docs/capture.md lists them.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Registry } from 'prom-client';
import { DEBEZIUM_VERSION, ensureDebeziumJars, startDebezium, type RunningDebezium } from '../../infra/debezium';
import { createRelay, parseRelayOptions } from '../../outbox';
import { collectRecords, createTestDatabase, eventually, testEnv, uniqueName, type TestDatabase } from '../helpers';
import { compareCaptures, parseExact, type CapturedRecord } from './debezium-compare';
import { createTopics, quietLogger } from './support';

const TABLES = ['public.all_types', 'sales.order_lines', 'public.k2'];

/** Every statement runs on its own (autocommit) unless it is a begin ... commit block. */
function changes(toastText: string, toastBytes: string): [string, unknown[]][] {
  return [
    [
      `insert into public.all_types values (1, 7, 9007199254740993, 12345.678900, 123456789.123, 1.5, 2.25,
        'héllo "q" \\ ' || chr(10) || '✓', 'vc', 'ab', true, '2024-02-29 13:45:56.123456', '2024-02-29 13:45:56.123',
        '2024-02-29 13:45:56.123456+02', '2024-02-29', '13:45:56.123456', '13:45:56.5+02', '1 year 2 months 3 days 04:05:06.789',
        '{"b":1,"a":[1,2,{"x":null}]}', '{"b":1, "a":2}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2,NULL,3}',
        '{"a","b c",NULL,"d,e","q\\"x"}', '\\xdeadbeef00ff', $1, decode($2, 'hex'), '{1,-9223372036854775808}', '{1.5,-2.25,3}')`,
      [toastText, toastBytes],
    ],
    ['insert into public.all_types (id) values (2)', []],
    [
      `insert into public.all_types (id, small, big, num, num_fixed, r, d, t, flag, ts, tstz, dt, tm, js, u, ints, texts, bin) values
        (3, -32768, -9223372036854775808, -0.000123, -0.001, 'NaN', '-Infinity', '', false, '1969-12-31 23:59:59.999999',
         '1900-01-01 00:00:00+00', '0001-01-01', '00:00:00', '[]', '00000000-0000-0000-0000-000000000000', '{}', '{}', '\\x')`,
      [],
    ],
    [`insert into public.all_types (id, num, num_fixed, d) values (5, 'NaN', 0, 1e300)`, []],
    // Dates and timestamps at the edges: infinities, BC, before 1685 (microseconds past 2^53), precisions 0 and 3.
    [
      `insert into public.all_types (id, ts, ts3, ts0, tstz, tstz3, dt, tm, tm3, tmtz, cash) values
        (6, 'infinity', '-infinity', '0044-03-15 12:00:00 BC', '-infinity', '2024-01-01 00:00:00.5+00', '0044-03-15 BC', '23:59:59.999999', '00:00:00.001', '00:00:00+00', -1234.5),
        (7, '1600-01-01 00:00:00.000001', '1969-12-31 23:59:59.999', '2024-01-01 00:00:01', 'infinity', '2024-01-01 00:00:00+00', '-infinity', '12:00', '13:45:56.789', '23:59:59.75-11', 12.34)`,
      [],
    ],
    [`update public.all_types set big = big + 1, num = -98765.4321, t = 'updated', flag = false, js = '{"z":true}' where id = 1`, []],
    // The TOASTed big_text and big_bin are left alone: pgoutput does not send them.
    [`update public.all_types set vc = 'toast untouched' where id = 1`, []],
    [
      `begin; select pg_logical_emit_message(true, 'strangler.origin', 'service');
        update public.all_types set small = 1 where id = 2;
        insert into sales.order_lines values (10, 20, 'x', 1.50), (10, 21, null, -2); commit`,
      [],
    ],
    ['update public.all_types set id = 4 where id = 3', []],
    ['delete from public.all_types where id = 2', []],
    [`update sales.order_lines set qty = 3 where order_id = 10 and "user" = 20`, []],
    [`delete from sales.order_lines where order_id = 10 and "user" = 21`, []],
    ['alter table public.all_types replica identity full', []],
    [`update public.all_types set vc = 'full identity' where id = 4`, []],
    ['delete from public.all_types where id = 5', []],
    [`insert into public.k2 values (1, 'x', 'c')`, []],
    // Neither sends anything for a truncate (Debezium's skipped.operations=t by default).
    ['truncate sales.order_lines', []],
    [`insert into sales.order_lines values (11, 1, 'after truncate', 0.01)`, []],
  ];
}

/** What Debezium sends for the changes above, on the table topics: 24 records, tombstones included. */
const EXPECTED_RECORDS = 24;

describe('table capture side by side with Debezium 3.6.1', () => {
  let db: TestDatabase;
  let debezium: RunningDebezium | undefined;
  let relay: ReturnType<typeof createRelay> | undefined;
  const log = (line: string) => process.stderr.write(`[debezium-compat] ${line}\n`);

  beforeAll(() => {
    // A fresh machine fetches Debezium and Kafka Connect from Maven Central first (one log line says so).
    ensureDebeziumJars(log);
  }, 600_000);

  afterAll(async () => {
    await debezium?.stop();
    await relay?.stop();
    if (!db) return;
    // A slot whose walsender has not exited yet would keep the database from being dropped.
    await eventually(
      async () => (await db.pool.query('select count(*)::int as n from pg_replication_slots where database = $1 and active', [db.name])).rows[0].n === 0,
      30_000,
      'both slots released',
    );
    await db.drop();
  });

  it('sends the same records as Debezium for every column type, update, delete and unchanged TOAST value', async () => {
    db = await createTestDatabase('sfg_dbz_compat');
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    try {
      await admin.query(`
        create table public.all_types (
          id integer primary key, small smallint, big bigint, num numeric, num_fixed numeric(12,3), r real, d double precision,
          t text, vc varchar(40), ch char(5), flag boolean, ts timestamp, ts3 timestamp(3), tstz timestamptz, dt date, tm time,
          tmtz timetz, iv interval, js jsonb, jn json, u uuid, ints int[], texts text[], bin bytea, big_text text, big_bin bytea,
          bigs bigint[], nums numeric[], ts0 timestamp(0), tstz3 timestamptz(3), tm3 time(3), cash money);
        create schema sales;
        create table sales.order_lines (order_id bigint, "user" integer, "select" text, qty numeric(10,2), primary key (order_id, "user"));
        create table public.k2 (a int, b text, c text, primary key (b, a));`);
      const name = uniqueName('cmp');
      const debeziumPrefix = `${name.replace(/_/g, '-')}-dbz`;
      const oursPrefix = `${name.replace(/_/g, '-')}-sfg`;
      // One partition per topic keeps each capture's records in one order, which the failure messages follow.
      await createTopics(TABLES.flatMap((table) => [`${debeziumPrefix}.${table}`, `${oursPrefix}.${table}`]), 1);

      debezium = await startDebezium({
        name: 'compat',
        databaseUrl: db.url,
        topicPrefix: debeziumPrefix,
        tables: TABLES,
        slotName: `${db.name}_dbz`,
        publicationName: `${db.name}_dbz`,
        brokers: testEnv().kafkaBrokers,
        log,
      });
      const relayOptions = parseRelayOptions({
        name: uniqueName('cmp').slice(0, 40),
        mode: 'tables',
        connectionString: db.url,
        capture: { tables: TABLES, topicPrefix: oursPrefix },
        kafka: { brokers: testEnv().kafkaBrokers },
      });
      relay = createRelay(relayOptions, { logger: quietLogger, registry: new Registry() });
      await relay.start();
      // Changes from here on are captured by both: each one's slot is streaming.
      await eventually(
        async () => (await admin.query('select active from pg_replication_slots where slot_name = $1', [relayOptions.slotName])).rows[0]?.active,
        30_000,
        `slot ${relayOptions.slotName} streaming`,
      );

      const toastText = randomBytes(3000).toString('hex');
      for (const [sql, params] of changes(toastText, randomBytes(3000).toString('hex'))) await admin.query(sql, params);

      const collect = async (prefix: string): Promise<CapturedRecord[]> =>
        (await collectRecords({ topics: TABLES.map((table) => `${prefix}.${table}`), count: EXPECTED_RECORDS, timeoutMs: 60_000, settleMs: 1500 }))
          .map(({ topic, key, value, headers }) => ({ topic, key, value, headers }));
      const [fromDebezium, fromOurs] = await Promise.all([collect(debeziumPrefix), collect(oursPrefix)]);

      // The scenario does what it says: Debezium itself sent its placeholder for the unchanged TOASTed columns.
      const toastUpdate = fromDebezium.map((record) => record.value && parseExact(record.value)).find(
        (value) => (value as { after?: { vc?: unknown } } | null)?.after?.vc === 'toast untouched',
      ) as { after: Record<string, unknown>; source: { version: string } };
      expect(toastUpdate.after.big_text).toBe('__debezium_unavailable_value');
      expect(toastUpdate.after.big_bin).toBe(Buffer.from('__debezium_unavailable_value').toString('base64'));
      expect(toastUpdate.source.version).toBe(DEBEZIUM_VERSION);

      expect(
        compareCaptures(fromDebezium, fromOurs, {
          debeziumPrefix,
          oursPrefix,
          // Debezium 3's extended.headers.enabled: the connector's name, task and run id on every record.
          debeziumOnlyHeaderPrefixes: ['__debezium.context.'],
          // The design's headers (Debezium sends none of these).
          oursOnlyHeaders: ['origin', 'id', 'type', 'txid', 'lsn', 'commit_lsn'],
          // Debezium's first transaction after its first start names no last commit; ours the slot's position.
          debeziumLastCommitMayBeNull: true,
        }),
      ).toEqual([]);
    } finally {
      await admin.end();
    }
  }, 180_000);
});
