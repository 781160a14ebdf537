import { compareCaptures, parseExact, type CapturedRecord } from './debezium-compare';

const options = { debeziumPrefix: 'dbz', oursPrefix: 'sfg', debeziumOnlyHeaderPrefixes: ['__debezium.context.'], oursOnlyHeaders: ['origin', 'id'] };

function record(prefix: string, value: Record<string, unknown> | null, overrides: Partial<CapturedRecord> = {}): CapturedRecord {
  const envelope = value && {
    before: null,
    after: { id: 1, big: '__BIG__', amount: 'HL6ZGoM=' },
    source: { version: '3.6.1.Final', connector: 'postgresql', name: prefix, ts_ms: 1, lsn: 10, sequence: '["1","10"]' },
    transaction: null,
    op: 'c',
    ts_ms: prefix === 'dbz' ? 5 : 6,
    ...value,
  };
  return {
    topic: `${prefix}.public.t`,
    key: '{"id":1}',
    value: envelope && JSON.stringify(envelope).replace('"__BIG__"', '9007199254740993'),
    headers: prefix === 'dbz' ? { '__debezium.context.taskId': '0' } : { origin: 'legacy', id: 'x' },
    ...overrides,
  };
}

describe('parseExact', () => {
  it('keeps integers beyond 2^53 exact and reads the rest as JSON.parse does', () => {
    expect(parseExact('{"a":9007199254740993,"b":[1.5,-2,1.0E300,"x\\"y"],"c":null,"d":true}')).toEqual({
      a: 9007199254740993n,
      b: [1.5, -2n, 1e300, 'x"y'],
      c: null,
      d: true,
    });
    expect(() => parseExact('{"a":1} x')).toThrow(/trailing/);
  });
});

describe('compareCaptures', () => {
  it('finds nothing when only the prefix, processing times and documented headers differ', () => {
    expect(compareCaptures([record('dbz', {}), record('dbz', null)], [record('sfg', {}), record('sfg', null)], options)).toEqual([]);
  });

  it('compares numbers by value across Java and JavaScript spellings, but integers exactly', () => {
    const dbz = record('dbz', { after: { d: 1, n: 1 } });
    dbz.value = dbz.value!.replace('"d":1', '"d":1.0E300').replace('"n":1', '"n":9007199254740993');
    const ours = record('sfg', { after: { d: 1, n: 1 } });
    ours.value = ours.value!.replace('"d":1', '"d":1e+300').replace('"n":1', '"n":9007199254740992');
    expect(compareCaptures([dbz], [ours], options)).toEqual(['public.t {"id":1} #0: after.n: Debezium 9007199254740993, ours 9007199254740992']);
  });

  it('reports every other difference: a value, a missing field, an extra field, a type, the op, the key bytes, a tombstone, a count, a header', () => {
    const problems = compareCaptures(
      [record('dbz', { after: { id: 1, t: 'a', x: 1 } }), record('dbz', null), record('dbz', {}, { key: '{"id":2}' }), record('dbz', {}, { headers: { '__debezium.newkey': '{"id":3}' } })],
      [
        record('sfg', { after: { id: 1, t: 'b', y: 1 }, op: 'u', source: { version: '3.6.1.Final', connector: 'postgresql', name: 'sfg', ts_ms: '1', lsn: 10, sequence: '["1","10"]' } }),
        record('sfg', {}),
        record('sfg', {}, { key: '{"id": 2}' }),
        record('sfg', {}),
      ],
      options,
    );
    expect(problems).toEqual([
      'public.t {"id":1} #0: after.t: Debezium "a", ours "b"',
      'public.t {"id":1} #0: after.x: Debezium 1, ours (absent)',
      'public.t {"id":1} #0: after.y: Debezium (absent), ours 1',
      'public.t {"id":1} #0: source.ts_ms: Debezium 1, ours "1"',
      'public.t {"id":1} #0: op: Debezium "c", ours "u"',
      'public.t {"id":1} #1: tombstone on one side only (Debezium tombstone, ours value)',
      'public.t {"id":1} #2: header __debezium.newkey: Debezium {"id":3}, ours (absent)',
      'public.t {"id":2}: Debezium sent 1 records, ours 0',
      // Keys are matched as bytes: a key spelled otherwise is another key.
      'public.t {"id": 2}: Debezium sent 0 records, ours 1',
    ]);
  });

  it('checks source.version unless told it may differ (then only its presence and type)', () => {
    const ours = (version: unknown) => record('sfg', { source: { version, connector: 'postgresql', name: 'sfg', ts_ms: 1, lsn: 10, sequence: '["1","10"]' } });
    expect(compareCaptures([record('dbz', {})], [ours('strangler-fig 1.0')], options)).toEqual(['public.t {"id":1} #0: source.version: Debezium "3.6.1.Final", ours "strangler-fig 1.0"']);
    expect(compareCaptures([record('dbz', {})], [ours('strangler-fig 1.0')], { ...options, allowedValuePaths: ['source.version'] })).toEqual([]);
    expect(compareCaptures([record('dbz', {})], [ours(1)], { ...options, allowedValuePaths: ['source.version'] })).toHaveLength(1);
  });

  it('insists that source.name is each side prefix', () => {
    expect(compareCaptures([record('dbz', {})], [record('sfg', { source: { version: '3.6.1.Final', connector: 'postgresql', name: 'dbz', ts_ms: 1, lsn: 10, sequence: '["1","10"]' } })], options)).toEqual([
      'public.t {"id":1} #0: source.name: ours "dbz", not our prefix sfg',
    ]);
  });

  it('lets source.sequence name no last commit on Debezium side only when told, and only that element', () => {
    const sequence = (prefix: string, value: string) => record(prefix, { source: { version: '3.6.1.Final', connector: 'postgresql', name: prefix, ts_ms: 1, lsn: 10, sequence: value } });
    const dbz = [sequence('dbz', '[null,"10"]')];
    expect(compareCaptures(dbz, [sequence('sfg', '["7","10"]')], options)).toEqual([
      'public.t {"id":1} #0: source.sequence: Debezium "[null,\\"10\\"]", ours "[\\"7\\",\\"10\\"]"',
    ]);
    expect(compareCaptures(dbz, [sequence('sfg', '["7","10"]')], { ...options, debeziumLastCommitMayBeNull: true })).toEqual([]);
    expect(compareCaptures(dbz, [sequence('sfg', '["7","11"]')], { ...options, debeziumLastCommitMayBeNull: true })).toHaveLength(1);
    expect(compareCaptures([sequence('dbz', '["7","10"]')], [sequence('sfg', '[null,"10"]')], { ...options, debeziumLastCommitMayBeNull: true })).toHaveLength(1);
  });
});
