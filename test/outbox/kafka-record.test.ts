import { crc32c, installLeanRecordEncoder, leanProduceRequest, leanRecordDecoder, type RecordBatchContext, leanRecordEncoder, murmur2, type EncodedRecord, type ProduceRequestArgs, type RecordInput } from '../../outbox/kafka-record';

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

describe("lean produce request: byte for byte kafkajs' produce request v3", () => {
  // kafkajs' own, as its producer uses them.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const kafkajsRequest = require('kafkajs/src/protocol/requests/produce/v3/request') as (args: ProduceRequestArgs) => { encode(): Promise<{ buffer: Buffer }> };
  const kafkajsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (bytes: Buffer) => number;
  const Long = require('kafkajs/src/utils/long') as { fromValue(value: unknown): { value: bigint } };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const int64 = (value: unknown) => BigInt.asIntN(64, Long.fromValue(value).value);
  let originals = 0;
  const lean = leanProduceRequest((args) => {
    const request = kafkajsRequest(args);
    const encode = request.encode.bind(request);
    return { ...request, encode: () => ((originals += 1), encode()) } as never;
  }, int64);
  const envelope = (index: number) => JSON.stringify({ before: null, after: { id: index, note: 'x'.repeat(index % 300) }, source: { lsn: 1234 + index }, op: 'u' });
  const headers = (index: number) => ({ id: `e1c1f1b2-0000-5000-8000-${String(index).padStart(12, '0')}`, type: 'u', origin: 'legacy', txid: String(700 + index), lsn: '0/1F0', commit_lsn: '0/200' });
  const messages = (count: number, from = 0) => Array.from({ length: count }, (_, index) => ({ key: `{"id":${from + index}}`, value: envelope(from + index), headers: headers(from + index) }));

  beforeEach(() => {
    originals = 0;
    jest.spyOn(Date, 'now').mockReturnValue(1_796_684_576_124);
  });
  afterEach(() => jest.restoreAllMocks());

  it.each<[string, ProduceRequestArgs]>([
    ['captured changes on two topics, three partitions (idempotent producer)', {
      acks: -1, timeout: 30_000, producerId: Long.fromValue(4711), producerEpoch: 3,
      topicData: [
        { topic: 'pfx.bench.orders', partitions: [{ partition: 0, firstSequence: 120, messages: messages(300) }, { partition: 2, firstSequence: 7, messages: messages(3, 300) }] },
        { topic: 'pfx.bench.order_lines', partitions: [{ partition: 1, firstSequence: 2_147_483_000, messages: messages(1, 400) }] },
      ],
    }],
    ['tombstones, null and empty keys, no headers', {
      acks: 1, timeout: 100, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: '{"id":1}', value: null, headers: { id: 'x' } }, { key: null, value: 'v' }, { key: '', value: '', headers: {} }] }] }],
    }],
    ['multi-byte text in topic, key, value and headers; long ASCII and long multi-byte text', {
      acks: -1, timeout: 5, transactionalId: 'tx-ключ', producerId: 9, producerEpoch: 1,
      topicData: [{ topic: 'тема', partitions: [{ partition: 5, firstSequence: 1, messages: [
        { key: 'ключ', value: '值'.repeat(500), headers: { 'sfg.error.message': 'ünïcödé ✓', ['x'.repeat(70)]: 'y'.repeat(90) } },
        { key: 'k'.repeat(65), value: 'a✓b'.repeat(30), headers: { a: '😀' } },
        { key: 'k', value: 'x'.repeat(300_000) },
      ] }] }],
    }],
    ['Buffer keys and values', { acks: -1, timeout: 1, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: Buffer.from('k'), value: Buffer.from([0, 1, 2, 255]), headers: { h: 'v' } }] }] }] }],
  ])('%s', async (_name, args) => {
    const expected = (await kafkajsRequest(args).encode()).buffer;
    const actual = (await lean(args).encode()).buffer;
    expect(actual.equals(expected)).toBe(true);
    expect(originals).toBe(0);
  });

  it("hands what it does not cover to kafkajs' encoding: compression, message timestamps, array and Buffer header values", async () => {
    const cases: ProduceRequestArgs[] = [
      { acks: -1, timeout: 1, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'k', value: 'v', timestamp: 1_700_000_000_000 }] }] }] },
      { acks: -1, timeout: 1, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'k', value: 'v', headers: { multi: ['a', 'b'] } }] }] }] },
      { acks: -1, timeout: 1, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'k', value: 'v', headers: { raw: Buffer.from('b') } }] }] }] },
    ];
    for (const args of cases) expect((await lean(args).encode()).buffer.equals((await kafkajsRequest(args).encode()).buffer)).toBe(true);
    expect(originals).toBe(cases.length);
  });

  it("checksums as kafkajs' crc32C does, at any length and offset", () => {
    const bytes = Buffer.from(Array.from({ length: 5_000 }, (_, index) => (index * 2_654_435_761) >>> 24));
    for (const [start, end] of [[0, 0], [0, 1], [3, 10], [1, 17], [0, 5_000], [7, 4_093]] as const) {
      expect(crc32c(bytes, start, end)).toBe(kafkajsCrc32C(bytes.subarray(start, end)));
    }
  });
});

describe("lean record decoder: what kafkajs' record decoder gives", () => {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const kafkajsDecoder = require('kafkajs/src/protocol/recordBatch/record/v0/decoder') as (decoder: { buffer: Buffer; offset: number }, context?: RecordBatchContext) => unknown;
  const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => { buffer: Buffer; offset: number };
  /* eslint-enable @typescript-eslint/no-require-imports */
  let originals = 0;
  const lean = leanRecordDecoder((decoder, context) => ((originals += 1), kafkajsDecoder(decoder, context)));
  const context: RecordBatchContext = { firstOffset: '4711', firstTimestamp: '1796684576124', magicByte: 2, isControlBatch: false, timestampType: 0, maxTimestamp: '1796684576999' };
  const encoded = (record: RecordInput) => (kafkajsRecord(record) as { buffer: Buffer }).buffer;
  // The record batch decoder hands each record's bytes without their length prefix.
  const withoutLength = (bytes: Buffer) => {
    let at = 0;
    while (bytes[at]! >= 0x80) at += 1;
    return bytes.subarray(at + 1);
  };
  const both = (bytes: Buffer, batch: RecordBatchContext) => {
    const ours = new Decoder(bytes);
    const theirs = new Decoder(bytes);
    return { ours: lean(ours, batch), theirs: kafkajsDecoder(theirs, batch), oursAt: ours.offset, theirsAt: theirs.offset };
  };

  it.each<[string, RecordInput, RecordBatchContext]>([
    ['a captured change with its headers', { key: '{"id":1}', value: '{"op":"u"}', offsetDelta: 17, timestampDelta: 0, headers: { id: 'e1c1f1b2', origin: 'legacy', txid: '731', lsn: '0/1F0', commit_lsn: '0/200' } }, context],
    ['a tombstone, a null key, no headers', { key: null, value: null, offsetDelta: 0 }, context],
    ['repeated headers (an array), multi-byte text, an empty header value', { key: 'ключ', value: '值'.repeat(300), offsetDelta: 70_000, timestampDelta: 1_234_567, headers: { h: ['a', 'b', 'c'], 'ü': '✓', e: '' } }, context],
    ['a negative timestamp delta, log append time', { key: 'k', value: 'v', offsetDelta: 1, timestampDelta: -5, headers: { a: 'x' } }, { ...context, timestampType: 1 }],
    ['a header named after an Object.prototype member', { key: 'k', value: 'v', offsetDelta: 2, headers: { toString: 'x', constructor: 'y' } }, context],
  ])('%s', (_name, record, batch) => {
    originals = 0;
    const { ours, theirs, oursAt, theirsAt } = both(withoutLength(encoded(record)), batch);
    expect(ours).toEqual(theirs);
    expect(oursAt).toBe(theirsAt);
    expect(originals).toBe(0);
  });

  it("hands what it does not cover to kafkajs' decoder: large timestamp deltas, offsets past 2^53, a __proto__ header", () => {
    const cases: Array<[RecordInput, RecordBatchContext]> = [
      [{ key: 'k', value: 'v', offsetDelta: 1, timestampDelta: 2 ** 40 }, context],
      [{ key: 'k', value: 'v', offsetDelta: 1 }, { ...context, firstOffset: '9007199254740993' }],
      [{ key: 'k', value: 'v', offsetDelta: 1, headers: JSON.parse('{"__proto__":"x"}') as Record<string, string> }, context],
    ];
    originals = 0;
    for (const [record, batch] of cases) {
      const { ours, theirs, oursAt, theirsAt } = both(withoutLength(encoded(record)), batch);
      expect(ours).toEqual(theirs);
      expect(oursAt).toBe(theirsAt);
    }
    expect(originals).toBe(cases.length);
  });
});
