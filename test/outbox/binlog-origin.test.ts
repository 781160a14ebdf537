import { BinlogDecoder } from '../../outbox/capture/binlog-decoder';
import type { BinlogCatalog } from '../../outbox/capture/binlog-preflight';
import { markMysqlStatement, mysqlOriginComment, mysqlStatementOrigin, OutboxError } from '../../outbox';

describe('mysqlOriginComment / markMysqlStatement: the marker a MySQL write-back statement leads with', () => {
  it('writes a leading comment the relay reads back', () => {
    expect(mysqlOriginComment('tickets')).toBe('/* strangler.origin=tickets */');
    expect(markMysqlStatement('insert into t values (1)', 'svc-catalog.v2:eu_1')).toBe('/* strangler.origin=svc-catalog.v2:eu_1 */ insert into t values (1)');
    expect(mysqlStatementOrigin(markMysqlStatement('update t set a = 1', 'tickets'))).toBe('tickets');
    expect(mysqlStatementOrigin('  \n/*strangler.origin=x*/delete from t')).toBe('x');
  });

  it.each([
    ['', 'empty'],
    ['a */ drop table t; /*', 'a comment end'],
    ['a b', 'a space'],
    ["o'x", 'a quote'],
    ['x*', 'a star'],
    ['ü', 'a non-ASCII letter'],
    ['x'.repeat(101), 'longer than 100 characters'],
  ])('refuses %j (%s) with SFG_CAPTURE_ORIGIN_INVALID', (origin) => {
    let error: unknown;
    try {
      mysqlOriginComment(origin);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(OutboxError);
    expect(error).toMatchObject({ code: 'SFG_CAPTURE_ORIGIN_INVALID', retriable: false });
    expect((error as Error).message).toContain('A-Z a-z 0-9 _ . : -');
    expect(() => markMysqlStatement('select 1', origin)).toThrow(/cannot mark a MySQL statement/);
  });

  it('reads only a marker that starts the statement, never one inside it (a string literal a user wrote)', () => {
    expect(mysqlStatementOrigin("insert into posts (title) values ('/* strangler.origin=service */')")).toBeUndefined();
    expect(mysqlStatementOrigin('update t set a = 1 /* strangler.origin=service */')).toBeUndefined();
    expect(mysqlStatementOrigin('/* another comment */ /* strangler.origin=service */ insert into t values (1)')).toBeUndefined();
    expect(mysqlStatementOrigin('/* strangler.origin=bad token */ insert into t values (1)')).toBeUndefined();
    expect(mysqlStatementOrigin('')).toBeUndefined();
  });
});

describe('BinlogDecoder: a transaction with a marked statement carries its origin', () => {
  const catalog: BinlogCatalog = {
    flavour: 'mariadb',
    version: '10.11.19-MariaDB',
    tables: new Map([['shop.t', { db: 'shop', table: 't', primaryKey: ['id'] }]]),
    warnings: [],
  };
  const columns = [
    { COLUMN_NAME: 'id', COLUMN_TYPE: 'int(11)' },
    { COLUMN_NAME: 'n', COLUMN_TYPE: 'int(11)' },
  ];
  const decoder = new BinlogDecoder(catalog, { topicPrefix: 'legacy', origin: 'legacy', tombstonesOnDelete: true, decimalHandlingMode: 'precise', binaryHandlingMode: 'bytes' });
  const transaction = (statements: [string, 'insert' | 'delete'][], pos: number) => {
    decoder.begin({ gtid: `0-1-${pos}`, serverId: 1, timestampMs: 1_700_000_000_000, thread: null });
    statements.forEach(([text, kind], index) => {
      decoder.statement(text);
      decoder.event({ kind, db: 'shop', table: 't', columns, rows: [{ id: index + 1, n: 0 }], file: 'mariadb-bin.000001', pos: pos + index * 100 });
    });
    return decoder.commit();
  };

  it('tags every change (a tombstone too) of a transaction with a marked statement; the next unmarked one is back to the default', () => {
    const marked = transaction([[markMysqlStatement('insert into t values (1, 0)', 'tickets'), 'insert'], ['delete from t where id = 2', 'delete']], 1000);
    expect(marked.map((row) => [row.type, row.kafkaHeaders!.origin])).toEqual([['c', 'tickets'], ['d', 'tickets'], ['tombstone', 'tickets']]);
    const unmarked = transaction([['insert into t values (1, 0)', 'insert']], 2000);
    expect(unmarked.map((row) => row.kafkaHeaders!.origin)).toEqual(['legacy']);
    // A marker after the transaction's first changes still tags them: the marker is the transaction's.
    const late = transaction([['insert into t values (1, 0)', 'insert'], [markMysqlStatement('insert into t values (2, 0)', 'tickets'), 'insert']], 3000);
    expect(late.map((row) => row.kafkaHeaders!.origin)).toEqual(['tickets', 'tickets']);
    // Apart from the header, the records are those of an unmarked transaction.
    const again = transaction([['insert into t values (1, 0)', 'insert']], 1000);
    const [first] = transaction([[markMysqlStatement('insert into t values (1, 0)', 'tickets'), 'insert']], 1000);
    expect({ ...first, kafkaHeaders: { ...first!.kafkaHeaders, origin: 'legacy' }, payload: null }).toEqual({ ...again[0], payload: null });
  });

  it('forgets a marker at reset (a stop mid-transaction)', () => {
    decoder.begin({ gtid: '0-1-9', serverId: 1, timestampMs: 0, thread: null });
    decoder.statement(mysqlOriginComment('tickets'));
    decoder.reset();
    decoder.event({ kind: 'insert', db: 'shop', table: 't', columns, rows: [{ id: 1, n: 0 }], file: 'f', pos: 4 });
    expect(decoder.commit().map((row) => row.kafkaHeaders!.origin)).toEqual(['legacy']);
  });
});
