import type { Pgoutput } from 'pg-logical-replication';
import { captureEventId, DEBEZIUM_VERSION, UNAVAILABLE_VALUE_PLACEHOLDER, type CaptureCatalog } from '../../outbox/capture';
import { ChangeDecoder } from '../../outbox/capture/decoder';
import { quietLogger } from './support';

const relation: Pgoutput.MessageRelation = {
  tag: 'relation',
  relationOid: 16_500,
  schema: 'shop',
  name: 'line_items',
  replicaIdentity: 'default',
  keyColumns: ['order_id', 'line'],
  columns: [
    { name: 'order_id', flags: 1, typeOid: 23, typeMod: -1, typeSchema: null, typeName: null, parser: (raw: unknown) => raw },
    { name: 'line', flags: 1, typeOid: 23, typeMod: -1, typeSchema: null, typeName: null, parser: (raw: unknown) => raw },
    { name: 'order', flags: 0, typeOid: 25, typeMod: -1, typeSchema: null, typeName: null, parser: (raw: unknown) => raw },
    { name: 'status', flags: 0, typeOid: 99_001, typeMod: -1, typeSchema: null, typeName: null, parser: (raw: unknown) => raw },
  ],
};

const catalog: CaptureCatalog = {
  database: 'legacy',
  role: 'relay',
  tables: new Map([
    [
      'shop.line_items',
      {
        schema: 'shop',
        table: 'line_items',
        qualifiedName: 'shop.line_items',
        primaryKey: ['order_id', 'line'],
        owned: true,
        columns: new Map([
          ['order_id', { name: 'order_id', notNull: true, oid: 23, typeMod: -1 }],
          ['line', { name: 'line', notNull: true, oid: 23, typeMod: -1 }],
          ['order', { name: 'order', notNull: false, oid: 25, typeMod: -1 }],
          // A domain over int4 in the catalog: encoded as its base type although the relation names the domain.
          ['status', { name: 'status', notNull: false, oid: 23, typeMod: -1 }],
        ]),
      },
    ],
  ]),
  publication: { exists: true, owned: true, comment: null, missing: [] },
  slotExists: true,
  partitioned: false,
};

function decoder(options: { tombstonesOnDelete?: boolean } = {}) {
  const truncated: string[] = [];
  const instance = new ChangeDecoder(catalog, {
    topicPrefix: 'legacy',
    origin: 'legacy',
    tombstonesOnDelete: options.tombstonesOnDelete ?? true,
    decimalHandlingMode: 'precise',
    intervalHandlingMode: 'numeric',
    binaryHandlingMode: 'bytes',
    unavailableValuePlaceholder: UNAVAILABLE_VALUE_PLACEHOLDER,
    lastCommitLsn: '0/100',
    logger: quietLogger,
    onTruncate: (table) => truncated.push(table),
  });
  const copy = { ...relation, columns: relation.columns.map((column) => ({ ...column })) };
  instance.message(copy, '0/0');
  /** A tuple as pg-logical-replication builds it: each sent text through the column's parser. */
  const tuple = (values: (string | null | undefined)[]) =>
    Object.fromEntries(copy.columns.map((column, index) => [column.name, values[index] == null ? values[index] : column.parser(values[index])]));
  return { instance, relation: copy, tuple, truncated };
}

const begin = (xid = 731): Pgoutput.MessageBegin => ({ tag: 'begin', commitLsn: '00000000/00000200', commitTime: 1_714_557_600_123_456n, xid });
const commit: Pgoutput.MessageCommit = { tag: 'commit', flags: 0, commitLsn: '00000000/00000200', commitEndLsn: '00000000/00000230', commitTime: 1_714_557_600_123_456n };

describe('ChangeDecoder: pgoutput changes to Debezium change events', () => {
  it("writes an insert as Debezium's envelope, field for field, with the key, topic suffix and headers", () => {
    const { instance, relation, tuple } = decoder();
    instance.begin(begin());
    instance.message({ tag: 'insert', relation, new: tuple(['7', '1', 'first "one"', '3']) }, '0/1F0');
    const [row, ...rest] = instance.commit(commit, '0/230');
    expect(rest).toEqual([]);
    expect(row).toMatchObject({ aggregatetype: 'shop.line_items', aggregateid: '{"order_id":7,"line":1}', type: 'c' });
    const envelope = JSON.parse(row!.payload!) as Record<string, unknown>;
    expect(Object.keys(envelope)).toEqual(['before', 'after', 'source', 'transaction', 'op', 'ts_ms', 'ts_us', 'ts_ns']);
    expect(envelope).toMatchObject({ before: null, after: { order_id: 7, line: 1, order: 'first "one"', status: 3 }, transaction: null, op: 'c' });
    expect(envelope.source).toEqual({
      version: DEBEZIUM_VERSION,
      connector: 'postgresql',
      name: 'legacy',
      ts_ms: 1_714_557_600_123,
      snapshot: 'false',
      db: 'legacy',
      sequence: '["256","496"]',
      ts_us: 1_714_557_600_123_456,
      ts_ns: 1_714_557_600_123_456_000,
      schema: 'shop',
      table: 'line_items',
      txId: 731,
      lsn: 496,
      xmin: null,
      origin: null,
      origin_lsn: null,
    });
    expect(Object.keys(envelope.source as object)).toEqual(['version', 'connector', 'name', 'ts_ms', 'snapshot', 'db', 'sequence', 'ts_us', 'ts_ns', 'schema', 'table', 'txId', 'lsn', 'xmin', 'origin', 'origin_lsn']);
    const id = captureEventId({ db: 'legacy', lsn: 496, schema: 'shop', table: 'line_items', op: 'c', key: '{"order_id":7,"line":1}' });
    expect(row!.kafkaHeaders).toEqual({ id, type: 'c', origin: 'legacy', txid: '731', lsn: '0/1F0', commit_lsn: '0/200' });
    expect(captureEventId({ db: 'legacy', lsn: '0/1F0', schema: 'shop', table: 'line_items', op: 'c', key: { order_id: 7, line: 1 } })).toBe(id);
    // The next transaction's sequence starts with this commit's position.
    instance.begin(begin(732));
    instance.message({ tag: 'insert', relation, new: tuple(['8', '1', null, null]) }, '0/240');
    expect(JSON.parse(instance.commit(commit, '0/260')[0]!.payload!).source.sequence).toBe('["560","576"]');
  });

  it('an update without an old tuple has before null; an unsent TOASTed value becomes the placeholder', () => {
    const { instance, relation, tuple } = decoder();
    instance.begin(begin());
    instance.message({ tag: 'update', relation, key: null, old: null, new: tuple(['7', '1', undefined, '4']) }, '0/1F0');
    const [row] = instance.commit(commit, '0/230');
    expect(JSON.parse(row!.payload!)).toMatchObject({ before: null, after: { order: UNAVAILABLE_VALUE_PLACEHOLDER, status: 4 }, op: 'u' });
  });

  it('a delete with the replica identity key: before holds the key, then a tombstone (unless tombstonesOnDelete is false)', () => {
    const { instance, relation } = decoder();
    instance.begin(begin());
    instance.message({ tag: 'delete', relation, old: null, key: { order_id: relation.columns[0]!.parser('7'), line: relation.columns[1]!.parser('1') } }, '0/1F0');
    const [deleted, tombstone] = instance.commit(commit, '0/230');
    expect(JSON.parse(deleted!.payload!)).toMatchObject({ before: { order_id: 7, line: 1, order: null, status: null }, after: null, op: 'd' });
    expect(tombstone).toMatchObject({ aggregateid: '{"order_id":7,"line":1}', payload: null });
    expect(tombstone!.kafkaHeaders).not.toHaveProperty('type');
    expect(tombstone!.id).not.toBe(deleted!.id);

    const quiet = decoder({ tombstonesOnDelete: false });
    quiet.instance.begin(begin());
    quiet.instance.message({ tag: 'delete', relation: quiet.relation, key: null, old: quiet.tuple(['7', '1', 'x', '1']) }, '0/1F0');
    expect(quiet.instance.commit(commit, '0/230').map((row) => row.type)).toEqual(['d']);
  });

  it('an update of the primary key becomes a delete of the old key, its tombstone and a create of the new, as Debezium emits it', () => {
    const { instance, relation, tuple } = decoder();
    instance.begin(begin());
    instance.message({ tag: 'update', relation, old: null, key: { order_id: relation.columns[0]!.parser('7'), line: relation.columns[1]!.parser('1') }, new: tuple(['7', '2', 'x', '1']) }, '0/1F0');
    const rows = instance.commit(commit, '0/230');
    expect(rows.map((row) => [row.type, row.aggregateid])).toEqual([
      ['d', '{"order_id":7,"line":1}'],
      ['tombstone', '{"order_id":7,"line":1}'],
      ['c', '{"order_id":7,"line":2}'],
    ]);
    expect(rows[0]!.kafkaHeaders!['__debezium.newkey']).toBe('{"order_id":7,"line":2}');
    expect(rows[2]!.kafkaHeaders!['__debezium.oldkey']).toBe('{"order_id":7,"line":1}');
  });

  it('a transaction marked with a strangler.origin message carries that origin on every change, before the mark too', () => {
    const { instance, relation, tuple } = decoder();
    instance.begin(begin());
    instance.message({ tag: 'insert', relation, new: tuple(['1', '1', 'a', null]) }, '0/1F0');
    instance.message({ tag: 'message', flags: 1, transactional: true, messageLsn: '0/1F8', prefix: 'strangler.origin', content: Buffer.from('service') }, '0/1F8');
    instance.message({ tag: 'insert', relation, new: tuple(['2', '1', 'b', null]) }, '0/200');
    expect(instance.commit(commit, '0/230').map((row) => row.kafkaHeaders!.origin)).toEqual(['service', 'service']);
    // The mark ends with its transaction; other prefixes and non-transactional messages mark nothing.
    instance.begin(begin(732));
    instance.message({ tag: 'message', flags: 0, transactional: false, messageLsn: '0/240', prefix: 'strangler.origin', content: Buffer.from('service') }, '0/240');
    instance.message({ tag: 'message', flags: 1, transactional: true, messageLsn: '0/248', prefix: 'other', content: Buffer.from('service') }, '0/248');
    instance.message({ tag: 'insert', relation, new: tuple(['3', '1', 'c', null]) }, '0/250');
    expect(instance.commit(commit, '0/260').map((row) => row.kafkaHeaders!.origin)).toEqual(['legacy']);
  });

  it('skips tables outside the catalog and counts TRUNCATEs of captured ones without publishing them', () => {
    const { instance, relation, truncated } = decoder();
    const other = { ...relation, relationOid: 16_501, name: 'audit', columns: relation.columns.map((column) => ({ ...column })) };
    instance.message(other, '0/0');
    instance.begin(begin());
    instance.message({ tag: 'insert', relation: other, new: { order_id: '1', line: '1', order: 'x', status: null } }, '0/1F0');
    instance.message({ tag: 'truncate', cascade: false, restartIdentity: false, relations: [relation, other] }, '0/1F8');
    expect(instance.commit(commit, '0/230')).toEqual([]);
    expect(truncated).toEqual(['shop.line_items']);
  });
});
