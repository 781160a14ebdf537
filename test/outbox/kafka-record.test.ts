import { installLeanRecordEncoder, leanRecordEncoder, murmur2, type EncodedRecord, type RecordInput } from '../../outbox/kafka-record';

// kafkajs' own record encoder, as its produce request uses it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (record: RecordInput) => { buffer: Buffer };

describe("lean record encoder: byte for byte kafkajs' record format", () => {
  const calls: RecordInput[] = [];
  const lean = leanRecordEncoder((record) => {
    calls.push(record);
    return kafkajsRecord(record) as unknown as EncodedRecord;
  });
  const envelope = JSON.stringify({ before: null, after: { id: 1, note: 'é ✓ "q"' }, op: 'c' });

  it.each<[string, RecordInput]>([
    ['a captured change with its headers', { key: '{"id":1}', value: envelope, offsetDelta: 17, timestampDelta: 0, headers: { id: 'e1c1f1b2-0000-5000-8000-000000000001', origin: 'legacy', txid: '731', lsn: '0/1F0', commit_lsn: '0/200' } }],
    ['a tombstone (null value)', { key: '{"id":1}', value: null, offsetDelta: 0, headers: { id: 'x', origin: 'legacy' } }],
    ['a null key, no headers', { key: null, value: 'v', offsetDelta: 3 }],
    ['multi-byte text in key, value and headers', { key: 'ключ', value: '值'.repeat(500), offsetDelta: 4_999, timestampDelta: 12, headers: { 'sfg.error.message': 'ünïcödé ✓' } }],
    ['a large value (multi-byte varint lengths)', { key: 'k', value: 'x'.repeat(300_000), offsetDelta: 200_000, timestampDelta: -5 }],
    ['an empty key and value', { key: '', value: '', offsetDelta: 1, headers: { a: '' } }],
    ['Buffer key and value', { key: Buffer.from('k'), value: Buffer.from([0, 1, 2, 255]), offsetDelta: 2 }],
  ])('%s', (_name, record) => {
    calls.length = 0;
    expect(lean(record).buffer.equals(kafkajsRecord(record).buffer)).toBe(true);
    expect(calls).toHaveLength(0);
  });

  it("hands what it does not cover to kafkajs' encoder: array and Buffer header values, large timestamp deltas", () => {
    const records: RecordInput[] = [
      { key: 'k', value: 'v', headers: { multi: ['a', 'b'] } },
      { key: 'k', value: 'v', headers: { raw: Buffer.from('b') } },
      { key: 'k', value: 'v', timestampDelta: 2 ** 40 },
    ];
    calls.length = 0;
    for (const record of records) expect(lean(record).buffer.equals(kafkajsRecord(record).buffer)).toBe(true);
    expect(calls).toEqual(records);
  });

  it('installs once and stays installed', () => {
    const first = installLeanRecordEncoder();
    expect(installLeanRecordEncoder()).toBe(first);
  });
});

describe("murmur2: kafkajs' DefaultPartitioner hash (Java's Utils.murmur2)", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: string | Buffer) => number;
  it('gives the same hash for every length, ASCII and multi-byte keys, strings and Buffers', () => {
    const keys = ['', 'a', 'ab', 'abc', 'abcd', '{"order_id":1,"line_no":2}', 'ключ', 'a✓b', 'x'.repeat(1001)];
    for (let index = 0; index < 2_000; index += 1) keys.push(`{"id":${index * 7919}}`, String.fromCharCode(...Array.from({ length: index % 13 }, (_, at) => 32 + ((index * 31 + at * 17) % 900))));
    for (const key of keys) {
      expect(murmur2(key)).toBe(kafkajsMurmur2(key));
      expect(murmur2(Buffer.from(key))).toBe(kafkajsMurmur2(Buffer.from(key)));
    }
  });
});
