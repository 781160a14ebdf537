/**
 * A leaner encoder for kafkajs' records (Kafka's record format v2), byte for byte the same as kafkajs 2.2's own.
 * kafkajs encodes each record through a fresh zero-filled 512-byte buffer, another per header, and a Buffer per
 * varint: about 16 µs a record with six headers on this project's machine, most of a relay's CPU. This one sizes the
 * record first and writes it into one buffer from the pool (about 3 µs). Records it does not cover (Buffer or array
 * header values, large deltas) go to kafkajs' encoder unchanged; test/outbox/kafka-record.test.ts compares the two.
 */
import { createRequire } from 'node:module';

export interface RecordInput {
  offsetDelta?: number;
  timestampDelta?: number | { toString(): string };
  key?: string | Buffer | null;
  value?: string | Buffer | null;
  headers?: Record<string, unknown>;
}

/** What kafkajs' RecordBatch takes from an encoded record: `buf` (checked to be a Buffer) and `buffer` (the bytes). */
export interface EncodedRecord {
  buf: Buffer;
  buffer: Buffer;
}

type RecordEncoder = (record: RecordInput) => EncodedRecord;

function varIntSize(value: number): number {
  let zigZag = ((value << 1) ^ (value >> 31)) >>> 0;
  let bytes = 1;
  while (zigZag >= 0x80) {
    bytes += 1;
    zigZag >>>= 7;
  }
  return bytes;
}

function writeVarInt(target: Buffer, offset: number, value: number): number {
  let zigZag = ((value << 1) ^ (value >> 31)) >>> 0;
  while (zigZag >= 0x80) {
    target[offset++] = (zigZag & 0x7f) | 0x80;
    zigZag >>>= 7;
  }
  target[offset++] = zigZag;
  return offset;
}

const SMALL = 2 ** 30;
const isSmall = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value > -SMALL && value < SMALL;
const byteLength = (value: string | Buffer | null | undefined) => (value == null ? -1 : typeof value === 'string' ? Buffer.byteLength(value) : value.length);

function write(target: Buffer, offset: number, value: string | Buffer): number {
  return typeof value === 'string' ? offset + target.write(value, offset) : offset + value.copy(target, offset);
}

/** The lean encoder, falling back to `original` for what it does not cover. */
export function leanRecordEncoder(original: RecordEncoder): RecordEncoder {
  return (record) => {
    const { offsetDelta = 0, timestampDelta = 0, key, value, headers = {} } = record;
    if (!isSmall(offsetDelta) || !isSmall(timestampDelta)) return original(record);
    const names = Object.keys(headers);
    const sizes: number[] = new Array(names.length * 2);
    let headerBytes = varIntSize(names.length);
    for (let index = 0; index < names.length; index += 1) {
      const headerValue = headers[names[index]!];
      if (typeof headerValue !== 'string') return original(record);
      const nameSize = Buffer.byteLength(names[index]!);
      const valueSize = Buffer.byteLength(headerValue);
      sizes[2 * index] = nameSize;
      sizes[2 * index + 1] = valueSize;
      headerBytes += varIntSize(nameSize) + nameSize + varIntSize(valueSize) + valueSize;
    }
    const keySize = byteLength(key);
    const valueSize = byteLength(value);
    const body =
      1 + varIntSize(timestampDelta) + varIntSize(offsetDelta) + varIntSize(keySize) + Math.max(keySize, 0) + varIntSize(valueSize) + Math.max(valueSize, 0) + headerBytes;
    const bytes = Buffer.allocUnsafe(varIntSize(body) + body);
    let offset = writeVarInt(bytes, 0, body);
    bytes[offset++] = 0; // attributes
    offset = writeVarInt(bytes, offset, timestampDelta);
    offset = writeVarInt(bytes, offset, offsetDelta);
    offset = writeVarInt(bytes, offset, keySize);
    if (key != null) offset = write(bytes, offset, key);
    offset = writeVarInt(bytes, offset, valueSize);
    if (value != null) offset = write(bytes, offset, value);
    offset = writeVarInt(bytes, offset, names.length);
    for (let index = 0; index < names.length; index += 1) {
      offset = writeVarInt(bytes, offset, sizes[2 * index]!);
      offset += bytes.write(names[index]!, offset);
      offset = writeVarInt(bytes, offset, sizes[2 * index + 1]!);
      offset += bytes.write(headers[names[index]!] as string, offset);
    }
    return { buf: bytes, buffer: bytes };
  };
}

/**
 * Kafka's murmur2 (the Java client's Utils.murmur2, and kafkajs' DefaultPartitioner's) with 32-bit integer
 * arithmetic, where kafkajs multiplies 64-bit Long objects: the same hash, without the allocations.
 */
export function murmur2(key: string | Buffer): number {
  let text = typeof key === 'string' ? key : '';
  let bytes = typeof key === 'string' ? undefined : key;
  if (bytes === undefined) {
    for (let index = 0; index < text.length; index += 1) {
      if (text.charCodeAt(index) > 127) {
        bytes = Buffer.from(text);
        text = '';
        break;
      }
    }
  }
  // One byte per character (ASCII text), or the bytes.
  const length = bytes ? bytes.length : text.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const whole = length & ~3;
  for (let index = 0; index < whole; index += 4) {
    let k = bytes
      ? bytes[index]! | (bytes[index + 1]! << 8) | (bytes[index + 2]! << 16) | (bytes[index + 3]! << 24)
      : text.charCodeAt(index) | (text.charCodeAt(index + 1) << 8) | (text.charCodeAt(index + 2) << 16) | (text.charCodeAt(index + 3) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= (bytes ? bytes[whole + 2]! : text.charCodeAt(whole + 2)) << 16;
  if (rest >= 2) h ^= (bytes ? bytes[whole + 1]! : text.charCodeAt(whole + 1)) << 8;
  if (rest >= 1) h = Math.imul(h ^ (bytes ? bytes[whole]! : text.charCodeAt(whole)), m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

// --- the produce request in one buffer -----------------------------------------------------------------------

/** CRC-32C (Castagnoli) tables for slicing by 8 bytes: the checksum of a record batch, 8 bytes per step. */
const CRC_TABLES = (() => {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    tables[0]![byte] = crc;
  }
  for (let byte = 0; byte < 256; byte += 1) {
    for (let table = 1; table < 8; table += 1) tables[table]![byte] = (tables[table - 1]![byte]! >>> 8) ^ tables[0]![tables[table - 1]![byte]! & 0xff]!;
  }
  return tables;
})();

/** CRC-32C of `bytes[start, end)`, unsigned: the same as kafkajs' crc32C (one byte per step). */
export function crc32c(bytes: Buffer, start = 0, end = bytes.length): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  let crc = -1;
  let index = start;
  for (const whole = start + ((end - start) & ~7); index < whole; index += 8) {
    const low = crc ^ (bytes[index]! | (bytes[index + 1]! << 8) | (bytes[index + 2]! << 16) | (bytes[index + 3]! << 24));
    crc =
      t7[low & 0xff]! ^ t6[(low >>> 8) & 0xff]! ^ t5[(low >>> 16) & 0xff]! ^ t4[low >>> 24]! ^
      t3[bytes[index + 4]!]! ^ t2[bytes[index + 5]!]! ^ t1[bytes[index + 6]!]! ^ t0[bytes[index + 7]!]!;
  }
  for (; index < end; index += 1) crc = t0[(crc ^ bytes[index]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** UTF-8 length of a text: counted in JavaScript for short ASCII text (most keys and headers), else by Node. */
function utf8Length(text: string): number {
  if (text.length > 64) return Buffer.byteLength(text);
  for (let index = 0; index < text.length; index += 1) if (text.charCodeAt(index) > 127) return Buffer.byteLength(text);
  return text.length;
}

/** Writes a text of `size` UTF-8 bytes (ASCII when size is its length) at `offset`; answers the offset after it. */
function writeText(target: Buffer, offset: number, text: string, size: number): number {
  if (size === text.length && size <= 64) {
    for (let index = 0; index < size; index += 1) target[offset + index] = text.charCodeAt(index);
    return offset + size;
  }
  return offset + target.write(text, offset, size, size === text.length ? 'latin1' : 'utf8');
}

function writeBytes(target: Buffer, offset: number, value: string | Buffer, size: number): number {
  return typeof value === 'string' ? writeText(target, offset, value, size) : offset + value.copy(target, offset);
}

interface ProduceMessage {
  key?: string | Buffer | null;
  value?: string | Buffer | null;
  headers?: Record<string, unknown>;
  timestamp?: unknown;
}

/** kafkajs' produce request arguments (v3 to v7 share its encoding). */
export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: Array<{ topic: string; partitions: Array<{ partition: number; firstSequence?: number; messages: ProduceMessage[] }> }>;
}

interface ProduceRequest {
  encode(): Promise<{ buf: Buffer; buffer: Buffer }>;
}

type ProduceRequestFactory = (args: ProduceRequestArgs) => ProduceRequest;

/** Size of a record batch's header from its base offset through its record count. */
const BATCH_OVERHEAD = 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;

/**
 * The produce request's payload (v3-v7: transactional id, acks, timeout, topics, partitions, record batches of
 * format v2), byte for byte what kafkajs 2.2 encodes, written once into one buffer sized first. kafkajs builds it
 * through nested encoders that each start at 512 zero-filled bytes, grow by doubling and are copied into the next
 * one (about seven copies of every record), and checksums byte by byte. Undefined for what this does not cover
 * (compression, message timestamps, non-string header values): kafkajs' own encoding then.
 */
export function encodeProduceRequest(args: ProduceRequestArgs, int64: (value: unknown) => bigint, now = Date.now()): Buffer | undefined {
  const { acks, timeout, transactionalId = null, producerId = -1, producerEpoch = 0, compression = 0, topicData } = args;
  if (compression !== 0) return undefined;
  // Sizes, record by record: [keySize, valueSize, headerCount, body], then each header's name and value size.
  const sizes: number[] = [];
  const idSize = transactionalId === null ? 0 : utf8Length(transactionalId);
  let total = 2 + idSize + 2 + 4 + 4;
  for (const { topic, partitions } of topicData) {
    total += 2 + utf8Length(topic) + 4;
    for (const { messages } of partitions) {
      total += 4 + 4 + BATCH_OVERHEAD;
      for (let offsetDelta = 0; offsetDelta < messages.length; offsetDelta += 1) {
        const { key, value, headers, timestamp } = messages[offsetDelta]!;
        if (timestamp != null || !isSmall(offsetDelta)) return undefined;
        const keySize = key == null ? -1 : typeof key === 'string' ? utf8Length(key) : key.length;
        const valueSize = value == null ? -1 : typeof value === 'string' ? (value.length > 64 ? Buffer.byteLength(value) : utf8Length(value)) : value.length;
        const at = sizes.length;
        sizes.push(keySize, valueSize, 0, 0);
        let headerCount = 0;
        let body = 1 + 1 + varIntSize(offsetDelta) + varIntSize(keySize) + Math.max(keySize, 0) + varIntSize(valueSize) + Math.max(valueSize, 0);
        if (headers) {
          for (const name in headers) {
            const headerValue = headers[name];
            if (typeof headerValue !== 'string') return undefined;
            const nameSize = utf8Length(name);
            const headerSize = utf8Length(headerValue);
            sizes.push(nameSize, headerSize);
            body += varIntSize(nameSize) + nameSize + varIntSize(headerSize) + headerSize;
            headerCount += 1;
          }
        }
        body += varIntSize(headerCount);
        sizes[at + 2] = headerCount;
        sizes[at + 3] = body;
        total += varIntSize(body) + body;
      }
    }
  }
  const out = Buffer.allocUnsafe(total);
  let offset = out.writeInt16BE(transactionalId === null ? -1 : idSize, 0);
  if (transactionalId !== null) offset = writeText(out, offset, transactionalId, idSize);
  offset = out.writeInt16BE(acks, offset);
  offset = out.writeInt32BE(timeout, offset);
  offset = out.writeInt32BE(topicData.length, offset);
  const producer = int64(producerId);
  const timestamp = int64(now);
  const attributes = transactionalId ? 16 : 0;
  let next = 0;
  for (const { topic, partitions } of topicData) {
    const topicSize = utf8Length(topic);
    offset = out.writeInt16BE(topicSize, offset);
    offset = writeText(out, offset, topic, topicSize);
    offset = out.writeInt32BE(partitions.length, offset);
    for (const { partition, firstSequence = 0, messages } of partitions) {
      offset = out.writeInt32BE(partition, offset);
      const sizeAt = offset;
      offset += 4;
      offset = out.writeBigInt64BE(0n, offset);
      const lengthAt = offset;
      offset += 4;
      offset = out.writeInt32BE(0, offset); // partition leader epoch
      out[offset++] = 2; // magic
      const crcAt = offset;
      offset += 4;
      const bodyAt = offset;
      offset = out.writeInt16BE(attributes, offset);
      offset = out.writeInt32BE(messages.length - 1, offset);
      offset = out.writeBigInt64BE(timestamp, offset);
      offset = out.writeBigInt64BE(timestamp, offset);
      offset = out.writeBigInt64BE(producer, offset);
      offset = out.writeInt16BE(producerEpoch, offset);
      offset = out.writeInt32BE(firstSequence, offset);
      offset = out.writeInt32BE(messages.length, offset);
      for (let offsetDelta = 0; offsetDelta < messages.length; offsetDelta += 1) {
        const { key, value, headers } = messages[offsetDelta]!;
        const keySize = sizes[next]!;
        const valueSize = sizes[next + 1]!;
        const headerCount = sizes[next + 2]!;
        offset = writeVarInt(out, offset, sizes[next + 3]!);
        next += 4;
        out[offset++] = 0; // attributes
        out[offset++] = 0; // timestamp delta (every record at the batch's timestamp)
        offset = writeVarInt(out, offset, offsetDelta);
        offset = writeVarInt(out, offset, keySize);
        if (key != null) offset = writeBytes(out, offset, key, keySize);
        offset = writeVarInt(out, offset, valueSize);
        if (value != null) offset = writeBytes(out, offset, value, valueSize);
        offset = writeVarInt(out, offset, headerCount);
        if (headers) {
          for (const name in headers) {
            offset = writeVarInt(out, offset, sizes[next]!);
            offset = writeText(out, offset, name, sizes[next]!);
            offset = writeVarInt(out, offset, sizes[next + 1]!);
            offset = writeText(out, offset, headers[name] as string, sizes[next + 1]!);
            next += 2;
          }
        }
      }
      out.writeInt32BE(offset - sizeAt - 4, sizeAt);
      out.writeInt32BE(offset - lengthAt - 4, lengthAt);
      out.writeUInt32BE(crc32c(out, bodyAt, offset), crcAt);
    }
  }
  if (offset !== total) throw new Error(`produce request encoded into ${offset} of ${total} bytes`);
  return out;
}

/** kafkajs' produce request (v3) with its payload encoded by encodeProduceRequest where that covers it. */
export function leanProduceRequest(original: ProduceRequestFactory, int64: (value: unknown) => bigint): ProduceRequestFactory {
  return (args) => {
    const request = original(args);
    const encode = request.encode.bind(request);
    request.encode = async () => {
      const bytes = encodeProduceRequest(args, int64);
      return bytes ? { buf: bytes, buffer: bytes } : encode();
    };
    return request;
  };
}

// --- the record decoder ----------------------------------------------------------------------------------------

/** kafkajs' Decoder as its record decoder uses it: the bytes and a read position. */
export interface RecordDecoderInput {
  buffer: Buffer;
  offset: number;
}

/** What kafkajs' record batch decoder hands each record's decoder. */
export interface RecordBatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
}

type RecordDecoder = (decoder: RecordDecoderInput, batchContext?: RecordBatchContext) => unknown;

/** kafkajs' TimestampTypes.LOG_APPEND_TIME. */
const LOG_APPEND_TIME = 1;

/**
 * A leaner decoder for kafkajs' fetched records (format v2), giving what kafkajs 2.2's own gives. kafkajs reads each
 * record's timestamp delta as a 64-bit Long built byte by byte, adds both deltas in BigInt to the batch's offset and
 * timestamp parsed again from their text, and builds the headers object by spreading it once per header: a few µs
 * a record, on every record a sync consumes. This one reads the deltas as numbers and sets the headers in place.
 * Records it does not cover (a timestamp delta past 28 bits, offsets or timestamps past 2^53, a `__proto__` header)
 * go to kafkajs' decoder unchanged; test/outbox/kafka-record.test.ts compares the two.
 */
export function leanRecordDecoder(original: RecordDecoder): RecordDecoder {
  return (decoder, batchContext = {}) => {
    const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
    const { buffer } = decoder;
    let offset = decoder.offset;
    const attributes = buffer.readInt8(offset);
    offset += 1;
    let byte: number;
    let varint = 0;
    let shift = 0;
    do {
      if (shift > 21) return original(decoder, batchContext);
      byte = buffer[offset++]!;
      varint += (byte & 0x7f) << shift;
      shift += 7;
    } while (byte >= 0x80);
    const timestampDelta = (varint >>> 1) ^ -(varint & 1);
    let timestamp: string | undefined;
    if (timestampType === LOG_APPEND_TIME && maxTimestamp) timestamp = maxTimestamp;
    else {
      const first = Number(firstTimestamp);
      if (!Number.isSafeInteger(first) || !Number.isSafeInteger(first + timestampDelta)) return original(decoder, batchContext);
      timestamp = String(first + timestampDelta);
    }
    varint = 0;
    shift = 0;
    do {
      byte = buffer[offset++]!;
      varint += (byte & 0x7f) << shift;
      shift += 7;
    } while (byte >= 0x80);
    const offsetDelta = (varint >>> 1) ^ -(varint & 1);
    const base = Number(firstOffset);
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(base + offsetDelta)) return original(decoder, batchContext);
    const readVarInt = () => {
      let value = 0;
      let at = 0;
      let current: number;
      do {
        current = buffer[offset++]!;
        value += (current & 0x7f) << at;
        at += 7;
      } while (current >= 0x80);
      return (value >>> 1) ^ -(value & 1);
    };
    const readBytes = () => {
      const length = readVarInt();
      if (length === -1) return null;
      const bytes = buffer.subarray(offset, offset + length);
      offset += length;
      return bytes;
    };
    const key = readBytes();
    const value = readBytes();
    const headers: Record<string, unknown> = {};
    const count = readVarInt();
    for (let index = 0; index < count; index += 1) {
      const name = readBytes();
      const headerKey = name === null ? 'null' : name.toString('utf8');
      if (headerKey === '__proto__') return original(decoder, batchContext);
      const headerValue = readBytes();
      const known = headers[headerKey];
      headers[headerKey] = known === undefined ? headerValue : Array.isArray(known) ? known.concat([headerValue]) : [known, headerValue];
    }
    decoder.offset = offset;
    return {
      magicByte,
      attributes,
      timestamp,
      offset: String(base + offsetDelta),
      key,
      value,
      headers,
      isControlRecord: isControlBatch,
      batchContext,
    };
  };
}

const load = createRequire(__filename);
const RECORD_MODULE = 'kafkajs/src/protocol/recordBatch/record/v0';
/** The one kafkajs module that takes the record encoder, and builds the produce request (v4-v7 build on it). */
const PRODUCE_REQUEST_MODULE = 'kafkajs/src/protocol/requests/produce/v3/request';
const LONG_MODULE = 'kafkajs/src/utils/long';
const RECORD_DECODER_MODULE = 'kafkajs/src/protocol/recordBatch/record/v0/decoder';
/** The one kafkajs module that takes the record decoder (the record batch decoder, loaded with the first fetch). */
const BATCH_DECODER_MODULE = 'kafkajs/src/protocol/recordBatch/v0/decoder';

/**
 * Puts the lean record decoder in place of kafkajs', under the same conditions as installLeanRecordEncoder (kafkajs
 * 2.2.x through Node's module cache, before its record batch decoder loads). Returns whether it is in place.
 */
export function installLeanRecordDecoder(): boolean {
  try {
    const version = (load('kafkajs/package.json') as { version: string }).version;
    if (!/^2\.2\./.test(version)) return false;
    const decoderPath = load.resolve(RECORD_DECODER_MODULE);
    const cache = load.cache;
    if (cache[load.resolve(BATCH_DECODER_MODULE)] !== undefined) return (cache[decoderPath]?.exports as { lean?: boolean } | undefined)?.lean === true;
    const original = load(RECORD_DECODER_MODULE) as RecordDecoder & { lean?: boolean };
    if (original.lean === true) return true;
    const entry = cache[decoderPath];
    if (!entry || entry.exports !== original) return false;
    entry.exports = Object.assign(leanRecordDecoder(original), { lean: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Puts the lean encoders in place of kafkajs' record encoder and produce request encoding, for kafkajs 2.2.x loaded
 * through Node's module cache, before its produce request module loads (it is loaded lazily, on the first send).
 * Anywhere else (another version, a module registry of its own as in jest, the request already loaded) kafkajs
 * keeps its own encoders. Returns whether the lean produce request is in place.
 */
export function installLeanRecordEncoder(): boolean {
  try {
    const version = (load('kafkajs/package.json') as { version: string }).version;
    if (!/^2\.2\./.test(version)) return false;
    const recordPath = load.resolve(RECORD_MODULE);
    const requestPath = load.resolve(PRODUCE_REQUEST_MODULE);
    const cache = load.cache;
    const loaded = cache[requestPath] as { exports?: { lean?: boolean } } | undefined;
    if (loaded !== undefined) return loaded.exports?.lean === true;
    const original = load(RECORD_MODULE) as RecordEncoder & { lean?: boolean };
    const entry = cache[recordPath];
    if (original.lean !== true && entry && entry.exports === original) entry.exports = Object.assign(leanRecordEncoder(original), { lean: true });
    const Long = load(LONG_MODULE) as { fromValue(value: unknown): { value: bigint } };
    const int64 = (value: unknown) => BigInt.asIntN(64, Long.fromValue(value).value);
    const request = load(PRODUCE_REQUEST_MODULE) as ProduceRequestFactory;
    const requestEntry = cache[requestPath];
    if (!requestEntry || requestEntry.exports !== request) return false;
    requestEntry.exports = Object.assign(leanProduceRequest(request, int64), { lean: true });
    return true;
  } catch {
    return false;
  }
}
