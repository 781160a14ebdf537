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

const load = createRequire(__filename);
const RECORD_MODULE = 'kafkajs/src/protocol/recordBatch/record/v0';
/** The one kafkajs module that takes the record encoder (produce v4-v7 build on it). */
const PRODUCE_REQUEST_MODULE = 'kafkajs/src/protocol/requests/produce/v3/request';

/**
 * Puts the lean encoder in place of kafkajs' record encoder, for kafkajs 2.2.x loaded through Node's module cache,
 * before its produce request module loads (it is loaded lazily, on the first send). Anywhere else (another
 * version, a module registry of its own as in jest, the request already loaded) kafkajs keeps its own encoder.
 * Returns whether the lean encoder is in place.
 */
export function installLeanRecordEncoder(): boolean {
  try {
    const version = (load('kafkajs/package.json') as { version: string }).version;
    if (!/^2\.2\./.test(version)) return false;
    const recordPath = load.resolve(RECORD_MODULE);
    const cache = load.cache;
    if (cache[load.resolve(PRODUCE_REQUEST_MODULE)] !== undefined) return cache[recordPath]?.exports?.lean === true;
    const original = load(RECORD_MODULE) as RecordEncoder & { lean?: boolean };
    if (original.lean === true) return true;
    const entry = cache[recordPath];
    if (!entry || entry.exports !== original) return false;
    entry.exports = Object.assign(leanRecordEncoder(original), { lean: true });
    return true;
  } catch {
    return false;
  }
}
