import { binlogEncoder, binlogEventId, binlogPreflight, CapturePreflightError, type BinlogCatalog, type BinlogColumnType, type BinlogEncodingOptions } from '../../outbox/capture';
import { BinlogDecoder } from '../../outbox/capture/binlog-decoder';

const precise: BinlogEncodingOptions = { decimalHandlingMode: 'precise', binaryHandlingMode: 'bytes' };
const encode = (column: Partial<BinlogColumnType> & { dataType: string }, value: Parameters<ReturnType<typeof binlogEncoder>>[0], options = precise) =>
  binlogEncoder({ columnType: column.dataType, ...column }, options)(value);

describe('binlogEncoder: MySQL/MariaDB binlog values as Debezium MySQL connector JSON (its defaults)', () => {
  it('integers, tinyint(1) included, are numbers; bigint unsigned wraps past 2^63-1 as a Java long', () => {
    expect(encode({ dataType: 'tinyint', columnType: 'tinyint(1)' }, 1)).toBe('1');
    expect(encode({ dataType: 'int' }, -42)).toBe('-42');
    expect(encode({ dataType: 'bigint' }, '9007199254740993')).toBe('9007199254740993');
    expect(encode({ dataType: 'bigint', columnType: 'bigint(20) unsigned' }, '18446744073709551615')).toBe('-1');
    expect(encode({ dataType: 'bigint', columnType: 'bigint(20) unsigned' }, '9223372036854775807')).toBe('9223372036854775807');
    expect(encode({ dataType: 'year' }, 2024)).toBe('2024');
  });

  it('float is the shortest text of the float32 (Float.toString), double the number', () => {
    expect(encode({ dataType: 'float' }, 1.100000023841858)).toBe('1.1');
    expect(encode({ dataType: 'float' }, 0.30000001192092896)).toBe('0.3');
    expect(encode({ dataType: 'double' }, 0.1)).toBe('0.1');
  });

  it('decimal: base64 of the unscaled value at the column scale (precise), or a number or a string', () => {
    expect(encode({ dataType: 'decimal', scale: 2 }, '-12.50')).toBe('"+x4="');
    expect(encode({ dataType: 'decimal', scale: 2 }, '0.00')).toBe('"AA=="');
    expect(encode({ dataType: 'decimal', scale: 2 }, '1.5')).toBe(`"${Buffer.from([0x00, 0x96]).toString('base64')}"`);
    expect(encode({ dataType: 'decimal', scale: 4 }, '12345678901234567890.1234')).toBe(
      `"${Buffer.from(BigInt('123456789012345678901234').toString(16).padStart(20, '0'), 'hex').toString('base64')}"`,
    );
    expect(encode({ dataType: 'decimal', scale: 2 }, '-12.50', { ...precise, decimalHandlingMode: 'string' })).toBe('"-12.50"');
    expect(encode({ dataType: 'decimal', scale: 2 }, '-12.50', { ...precise, decimalHandlingMode: 'double' })).toBe('-12.5');
  });

  it('date as epoch days, datetime as epoch ms (µs past 3 digits), timestamp as ISO-8601 UTC, time as µs; zero dates are null', () => {
    expect(encode({ dataType: 'date' }, '1970-01-01')).toBe('0');
    expect(encode({ dataType: 'date' }, '2024-01-02')).toBe('19724');
    expect(encode({ dataType: 'date' }, '1969-12-31')).toBe('-1');
    expect(encode({ dataType: 'date' }, '0000-00-00')).toBe('null');
    expect(encode({ dataType: 'datetime', fsp: 0 }, '2024-01-02 03:04:05')).toBe('1704164645000');
    expect(encode({ dataType: 'datetime', fsp: 3 }, '2024-01-02 03:04:05.123')).toBe('1704164645123');
    expect(encode({ dataType: 'datetime', fsp: 6 }, '2024-01-02 03:04:05.123456')).toBe('1704164645123456');
    expect(encode({ dataType: 'datetime', fsp: 0 }, '0000-00-00 00:00:00')).toBe('null');
    expect(encode({ dataType: 'timestamp', fsp: 0 }, '2024-01-02 03:04:05')).toBe('"2024-01-02T03:04:05Z"');
    expect(encode({ dataType: 'timestamp', fsp: 3 }, '2024-01-02 03:04:05.1')).toBe('"2024-01-02T03:04:05.100Z"');
    expect(encode({ dataType: 'timestamp', fsp: 6 }, '2024-01-02 03:04:05.654321')).toBe('"2024-01-02T03:04:05.654321Z"');
    expect(encode({ dataType: 'time', fsp: 3 }, '-01:02:03.500')).toBe(String(-(3723 * 1_000_000 + 500_000)));
    expect(encode({ dataType: 'time', fsp: 0 }, '838:59:59')).toBe(String((838 * 3600 + 59 * 60 + 59) * 1_000_000));
  });

  it('text, enum, set and json are strings; binary types base64; bit(1) a boolean', () => {
    expect(encode({ dataType: 'varchar' }, 'Zoë "q"')).toBe('"Zoë \\"q\\""');
    expect(encode({ dataType: 'enum', columnType: "enum('a','b')" }, 'b')).toBe('"b"');
    expect(encode({ dataType: 'set', columnType: "set('a','b')" }, ['a', 'b'])).toBe('"a,b"');
    expect(encode({ dataType: 'json' }, '{"a": 1}')).toBe('"{\\"a\\": 1}"');
    expect(encode({ dataType: 'json' }, { a: 1 })).toBe('"{\\"a\\":1}"');
    expect(encode({ dataType: 'blob' }, Buffer.from([1, 2, 255]))).toBe('"AQL/"');
    expect(encode({ dataType: 'varbinary' }, Buffer.from([1, 2, 255]), { ...precise, binaryHandlingMode: 'hex' })).toBe('"0102ff"');
    expect(encode({ dataType: 'bit', columnType: 'bit(1)' }, Buffer.from([1]))).toBe('true');
    expect(encode({ dataType: 'bit', columnType: 'bit(1)' }, 0)).toBe('false');
  });
});

describe('BinlogDecoder: a transaction of rows events -> Debezium MySQL change events', () => {
  const catalog: BinlogCatalog = {
    flavour: 'mysql',
    version: '8.4.3',
    tables: new Map([['shop.lines', { db: 'shop', table: 'lines', primaryKey: ['order_id', 'line_no'] }]]),
    warnings: [],
  };
  const columns = [
    { COLUMN_NAME: 'order_id', COLUMN_TYPE: 'bigint(20)' },
    { COLUMN_NAME: 'line_no', COLUMN_TYPE: 'int(11)' },
    { COLUMN_NAME: 'price', COLUMN_TYPE: 'decimal(10,2)' },
  ];
  const decoder = () => {
    const created = new BinlogDecoder(catalog, { topicPrefix: 'legacy', origin: 'legacy', tombstonesOnDelete: true, ...precise });
    created.begin({ gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:23', serverId: 223344, timestampMs: 1_700_000_000_000, thread: null });
    created.thread(7);
    return created;
  };

  it('writes the envelope with MySQL source fields, keys and deterministic ids; other tables are ignored', () => {
    const transaction = decoder();
    transaction.event({ kind: 'insert', db: 'shop', table: 'other', columns, rows: [{ order_id: 1, line_no: 1, price: '1.00' }], file: 'mysql-bin.000003', pos: 400 });
    transaction.event({
      kind: 'insert',
      db: 'shop',
      table: 'lines',
      columns,
      rows: [{ order_id: 1, line_no: 1, price: '1.00' }, { order_id: 1, line_no: 2, price: null }],
      file: 'mysql-bin.000003',
      pos: 484,
    });
    const rows = transaction.commit();
    expect(rows).toHaveLength(2);
    const [first, second] = rows as [(typeof rows)[0], (typeof rows)[0]];
    expect(first.aggregatetype).toBe('shop.lines');
    expect(first.aggregateid).toBe('{"order_id":1,"line_no":1}');
    const value = JSON.parse(first.payload!) as Record<string, unknown>;
    expect(value).toEqual({
      before: null,
      after: { order_id: 1, line_no: 1, price: 'ZA==' },
      source: {
        version: '3.6.1.Final',
        connector: 'mysql',
        name: 'legacy',
        ts_ms: 1_700_000_000_000,
        snapshot: 'false',
        db: 'shop',
        sequence: null,
        ts_us: 1_700_000_000_000_000,
        ts_ns: 1_700_000_000_000_000_000,
        table: 'lines',
        server_id: 223344,
        gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:23',
        file: 'mysql-bin.000003',
        pos: 484,
        row: 0,
        thread: 7,
        query: null,
      },
      transaction: null,
      op: 'c',
      ts_ms: expect.any(Number),
      ts_us: expect.any(Number),
      ts_ns: expect.any(Number),
    });
    expect(JSON.parse(second.payload!).source.row).toBe(1);
    expect(first.kafkaHeaders).toEqual({
      id: binlogEventId({ db: 'shop', table: 'lines', file: 'mysql-bin.000003', pos: 484, row: 0, op: 'c', key: '{"order_id":1,"line_no":1}' }),
      type: 'c',
      origin: 'legacy',
      file: 'mysql-bin.000003',
      pos: '484',
      gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:23',
    });
    expect(binlogEventId({ db: 'shop', table: 'lines', file: 'mysql-bin.000003', pos: 484, row: 0, op: 'c', key: { order_id: 1, line_no: 1 } })).toBe(first.id);
  });

  it('an update changing the key is a delete (and tombstone) of the old key and a create of the new; a delete is followed by a tombstone', () => {
    const transaction = decoder();
    transaction.event({
      kind: 'update',
      db: 'shop',
      table: 'lines',
      columns,
      rows: [
        { before: { order_id: 1, line_no: 1, price: '1.00' }, after: { order_id: 1, line_no: 1, price: '2.00' } },
        { before: { order_id: 1, line_no: 2, price: null }, after: { order_id: 2, line_no: 2, price: null } },
      ],
      file: 'mysql-bin.000003',
      pos: 600,
    });
    transaction.event({ kind: 'delete', db: 'shop', table: 'lines', columns, rows: [{ order_id: 1, line_no: 1, price: '2.00' }], file: 'mysql-bin.000003', pos: 700 });
    const rows = transaction.commit();
    expect(rows.map((row) => [row.type, row.aggregateid, row.kafkaHeaders?.['__debezium.newkey'] ?? row.kafkaHeaders?.['__debezium.oldkey'] ?? null])).toEqual([
      ['u', '{"order_id":1,"line_no":1}', null],
      ['d', '{"order_id":1,"line_no":2}', '{"order_id":2,"line_no":2}'],
      ['tombstone', '{"order_id":1,"line_no":2}', '{"order_id":2,"line_no":2}'],
      ['c', '{"order_id":2,"line_no":2}', '{"order_id":1,"line_no":2}'],
      ['d', '{"order_id":1,"line_no":1}', null],
      ['tombstone', '{"order_id":1,"line_no":1}', null],
    ]);
    expect(JSON.parse(rows[0]!.payload!)).toMatchObject({ op: 'u', before: { price: 'ZA==' }, after: { price: 'AMg=' } });
    expect(rows[5]!.payload).toBeNull();
    expect(new Set(rows.map((row) => row.id)).size).toBe(rows.length);
  });
});

describe('binlogPreflight: every missing piece at once, with what to run', () => {
  const server = (variables: Record<string, string>, grants: string[], tables: Record<string, { type: string; key: string[] }>) => ({
    async query(sql: string, values?: unknown[]): Promise<[unknown, unknown]> {
      if (sql.includes('show global variables')) return [Object.entries(variables).map(([Variable_name, Value]) => ({ Variable_name, Value })), []];
      if (sql.includes('current_user() as user')) return [[{ user: 'capture@%' }], []];
      if (sql.startsWith('show grants')) return [grants.map((grant) => ({ grant })), []];
      const name = `${String(values?.[0])}.${String(values?.[1])}`;
      if (sql.includes('information_schema.tables')) return [tables[name] ? [{ type: tables[name].type }] : [], []];
      return [(tables[name]?.key ?? []).map((column) => ({ name: column })), []];
    },
  });

  it('names the binlog settings, the grants and each table', async () => {
    const connection = server(
      { version: '8.0.36', log_bin: 'OFF', binlog_format: 'MIXED', binlog_row_image: 'MINIMAL', binlog_transaction_compression: 'ON', binlog_row_value_options: 'PARTIAL_JSON' },
      ["GRANT SELECT ON `shop`.* TO `capture`@`%`"],
      { 'shop.orders': { type: 'BASE TABLE', key: [] } },
    );
    const error = await binlogPreflight(connection, [{ db: 'shop', table: 'orders' }, { db: 'shop', table: 'gone' }]).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(CapturePreflightError);
    const problems = (error as CapturePreflightError).problems;
    expect(problems.map((problem) => problem.code)).toEqual([
      'SFG_CAPTURE_BINLOG_OFF',
      'SFG_CAPTURE_BINLOG_FORMAT',
      'SFG_CAPTURE_BINLOG_ROW_IMAGE',
      'SFG_CAPTURE_BINLOG_COMPRESSION',
      'SFG_CAPTURE_PARTIAL_JSON',
      'SFG_CAPTURE_PRIVILEGE',
      'SFG_CAPTURE_NO_PRIMARY_KEY',
      'SFG_CAPTURE_TABLE_MISSING',
    ]);
    expect(problems[1]!.message).toContain("SET GLOBAL binlog_format = 'ROW'");
    expect(problems[2]!.message).toContain("SET GLOBAL binlog_row_image = 'FULL'");
    expect(problems[5]!.message).toContain("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'capture'@'%'");
    expect((error as Error).message).toContain('8 problems');
  });

  it('accepts a ready server: MariaDB spells REPLICATION CLIENT as BINLOG MONITOR', async () => {
    const connection = server(
      { version: '10.11.19-MariaDB', log_bin: 'ON', binlog_format: 'ROW', binlog_row_image: 'FULL' },
      ['GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `capture`@`%`'],
      { 'shop.orders': { type: 'BASE TABLE', key: ['id'] } },
    );
    const catalog = await binlogPreflight(connection, [{ db: 'shop', table: 'orders' }]);
    expect(catalog.flavour).toBe('mariadb');
    expect([...catalog.tables.values()]).toEqual([{ db: 'shop', table: 'orders', primaryKey: ['id'] }]);
  });
});
