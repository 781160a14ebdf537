/**
 * Debezium's value encodings (Postgres connector 3.6, JSON converter with schemas disabled) from the text pgoutput
 * sends. Each column gets one encoder, chosen once per relation message from its type: a function from Postgres'
 * text to the JSON text of the value. The replication connection fixes the text formats the encoders read
 * (REPLICATION_SESSION_SETTINGS): ISO dates in UTC, ISO 8601 intervals, hex bytea.
 */
import { createHash } from 'node:crypto';

/** Turns one column's Postgres text into the JSON text of Debezium's value for it. */
export type Encoder = (text: string) => string;

export interface ColumnCodec {
  encode: Encoder;
  /** JSON text standing for a TOASTed value the change did not send (unchanged by an update). */
  unavailable: string;
}

/** Debezium's options for value encodings, under Debezium's names (camel-cased). */
export interface EncodingOptions {
  /** decimal.handling.mode: numeric and money as Debezium's Decimal bytes (precise), a JSON number (double) or a string. */
  decimalHandlingMode: 'precise' | 'double' | 'string';
  /** interval.handling.mode: microseconds (numeric) or an ISO 8601 duration string. */
  intervalHandlingMode: 'numeric' | 'string';
  /** binary.handling.mode: bytea as base64 (bytes, base64) or hex. */
  binaryHandlingMode: 'bytes' | 'base64' | 'hex';
  /** unavailable.value.placeholder. */
  unavailableValuePlaceholder: string;
}

/** A column's type with domains resolved to their base type; arrays carry their element type. */
export interface ColumnType {
  oid: number;
  typeMod: number;
  /** For an array type: the element's type oid. */
  elementOid?: number;
}

/** GUCs of the replication connection, so that the encoders parse one fixed text format. */
export const REPLICATION_SESSION_SETTINGS = '-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=iso_8601 -c bytea_output=hex -c extra_float_digits=1 -c lc_monetary=C';

const OID = {
  bool: 16, bytea: 17, char: 18, name: 19, int8: 20, int2: 21, int4: 23, text: 25, oid: 26, json: 114, xml: 142,
  float4: 700, float8: 701, money: 790, bpchar: 1042, varchar: 1043, date: 1082, time: 1083, timestamp: 1114,
  timestamptz: 1184, interval: 1186, timetz: 1266, bit: 1560, varbit: 1562, numeric: 1700, uuid: 2950, jsonb: 3802,
} as const;

/** Built-in array types and their element types. */
const ARRAY_ELEMENTS = new Map<number, number>([
  [199, OID.json], [1000, OID.bool], [1001, OID.bytea], [1002, OID.char], [1003, OID.name], [1005, OID.int2],
  [1007, OID.int4], [1009, OID.text], [1014, OID.bpchar], [1015, OID.varchar], [1016, OID.int8], [1021, OID.float4],
  [1022, OID.float8], [1028, OID.oid], [1115, OID.timestamp], [1182, OID.date], [1183, OID.time],
  [1185, OID.timestamptz], [1187, OID.interval], [1231, OID.numeric], [1270, OID.timetz], [2951, OID.uuid],
  [3807, OID.jsonb], [651, 650], [1040, 829], [1041, 869], [791, OID.money],
]);

const MS_PER_DAY = 86_400_000;
const DAYS_PER_MONTH_AVG = 365.25 / 12;

// --- encoders: Postgres text -> JSON text ---------------------------------------------------------------------

const asIs: Encoder = (text) => text;
const asString: Encoder = (text) => JSON.stringify(text);
const asBoolean: Encoder = (text) => (text === 't' ? 'true' : 'false');

/** float4/float8: Postgres' shortest round-trip text is a JSON number; NaN and infinities become strings, as Jackson writes them. */
const asFloat: Encoder = (text) => {
  const first = text.charCodeAt(0);
  return first === 78 /* N */ || first === 73 /* I */ || text === '-Infinity' ? `"${text}"` : text;
};

/**
 * Milliseconds since the epoch of a UTC date "YYYY-MM-DD" (years 0-99 too, which Date.UTC would move to the 1900s);
 * `bc`: the year is before Christ, proleptic Gregorian as Debezium counts it (1 BC is year 0).
 */
function epochMs(text: string, bc = false): number {
  const year = bc ? 1 - +text.slice(0, 4) : +text.slice(0, 4);
  const ms = Date.UTC(year, +text.slice(5, 7) - 1, +text.slice(8, 10));
  if (year >= 100) return ms;
  const date = new Date(ms);
  date.setUTCFullYear(year);
  return date.getTime();
}

/**
 * Debezium's numbers for infinite dates and timestamps: the JDBC driver's stand-ins (PGStatement's
 * DATE_POSITIVE_INFINITY and DATE_NEGATIVE_INFINITY, in ms) carried through Debezium's conversions unchanged.
 * Written as their digits (they pass 2^53).
 */
const INFINITE_DAYS = { infinity: '-2147472692', '-infinity': '-2147472691' } as const;
const INFINITE_TIMESTAMP_MICROS = { infinity: '9223372036825200000', '-infinity': '-9223372036832400000' } as const;
const INFINITE_TIMESTAMP_MILLIS = { infinity: '9223372036825200', '-infinity': '-9223372036832400' } as const;

/** Days since the epoch, as Debezium's Date (BC dates and infinities too). */
const asDays: Encoder = (text) => {
  if (text.length === 10) return String(epochMs(text) / MS_PER_DAY);
  if (text.length === 13 && text.endsWith(' BC')) return String(epochMs(text, true) / MS_PER_DAY);
  return text === 'infinity' || text === '-infinity' ? INFINITE_DAYS[text] : JSON.stringify(text);
};

/** Microseconds in "HH:MM:SS[.ffffff]" (the fraction padded to 6 digits). */
function microsOfTime(text: string, from: number, end: number): number {
  const seconds = +text.slice(from, from + 2) * 3600 + +text.slice(from + 3, from + 5) * 60 + +text.slice(from + 6, from + 8);
  const fraction = end > from + 9 ? +text.slice(from + 9, end).padEnd(6, '0') : 0;
  return seconds * 1_000_000 + fraction;
}

/** time.precision.mode=adaptive: precision 0-3 gives milliseconds, 4-6 microseconds. */
function timeEncoder(typeMod: number): Encoder {
  const millis = precisionOf(typeMod) <= 3;
  return (text) => {
    const micros = microsOfTime(text, 0, text.length);
    return String(millis ? Math.floor(micros / 1000) : micros);
  };
}

/** timestamp without time zone (adaptive): milliseconds or microseconds since the epoch (BC and infinities as Debezium). */
function timestampEncoder(typeMod: number): Encoder {
  const millis = precisionOf(typeMod) <= 3;
  const infinite = millis ? INFINITE_TIMESTAMP_MILLIS : INFINITE_TIMESTAMP_MICROS;
  return (text) => {
    if (text.length < 19 || text.charCodeAt(4) !== 45 /* - */) {
      return text === 'infinity' || text === '-infinity' ? infinite[text] : JSON.stringify(text);
    }
    const bc = text.endsWith(' BC');
    const ms = epochMs(text, bc);
    const ofDay = microsOfTime(text, 11, bc ? text.length - 3 : text.length);
    // Before 1685 or after 2254 the microseconds pass 2^53: exact in BigInt.
    if (!millis && Math.abs(ms) > 9e12) return String(BigInt(ms) * 1000n + BigInt(ofDay));
    const micros = ms * 1000 + ofDay;
    return String(millis ? Math.floor(micros / 1000) : micros);
  };
}

/**
 * timestamptz as io.debezium.time.ZonedTimestamp: ISO 8601 in UTC with exactly as many fraction digits as the
 * column's precision (6 when unconstrained, none at precision 0), e.g. "2024-05-01T10:00:00.123456Z".
 * Reads "2024-05-01 10:00:00.123456+00" (the session's TimeZone is UTC); infinity stays text.
 */
function zonedTimestampEncoder(typeMod: number): Encoder {
  const digits = precisionOf(typeMod);
  return (text) => {
    if (text.length < 22 || text.charCodeAt(4) !== 45 || text.endsWith(' BC')) return JSON.stringify(text);
    const zone = text.length - 3; // "+00"
    let fraction = '';
    if (digits > 0) fraction = `.${(text.charCodeAt(19) === 46 /* . */ ? text.slice(20, zone) : '').padEnd(digits, '0').slice(0, digits)}`;
    return `"${text.slice(0, 10)}T${text.slice(11, 19)}${fraction}Z"`;
  };
}

/** timetz as io.debezium.time.ZonedTime: shifted to UTC, fraction digits as needed, e.g. "08:00:00.5Z". */
const asZonedTime: Encoder = (text) => {
  const sign = Math.max(text.lastIndexOf('+'), text.lastIndexOf('-'));
  if (sign < 8) return JSON.stringify(text);
  const offset = text.slice(sign + 1).split(':');
  const offsetMicros = (+offset[0]! * 3600 + +(offset[1] ?? 0) * 60 + +(offset[2] ?? 0)) * 1_000_000 * (text[sign] === '-' ? -1 : 1);
  const day = 86_400_000_000;
  const micros = (((microsOfTime(text, 0, sign) - offsetMicros) % day) + day) % day;
  const seconds = Math.floor(micros / 1_000_000);
  const two = (value: number) => String(value).padStart(2, '0');
  const fraction = micros % 1_000_000 ? `.${String(micros % 1_000_000).padStart(6, '0').replace(/0+$/, '')}` : '';
  return `"${two(Math.floor(seconds / 3600))}:${two(Math.floor(seconds / 60) % 60)}:${two(seconds % 60)}${fraction}Z"`;
};

const ISO_INTERVAL = /^P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)D)?(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?[\d.]+)S)?)?$/;

/** interval.handling.mode: numeric = io.debezium.time.MicroDuration (months of 365.25/12 days), string = Interval. */
function intervalEncoder(mode: EncodingOptions['intervalHandlingMode']): Encoder {
  return (text) => {
    const match = ISO_INTERVAL.exec(text);
    if (!match) return JSON.stringify(text);
    const [years, months, days, hours, minutes] = [1, 2, 3, 4, 5].map((index) => Number(match[index] ?? 0)) as [number, number, number, number, number];
    const seconds = match[6] ?? '0';
    if (mode === 'string') {
      const plain = seconds.includes('.') ? seconds.replace(/0+$/, '').replace(/\.$/, '') : seconds;
      return `"P${years}Y${months}M${days}DT${hours}H${minutes}M${plain === '-0' ? '0' : plain}S"`;
    }
    const numberOfDays = (years * 12 + months) * DAYS_PER_MONTH_AVG + days;
    const numberOfSeconds = ((numberOfDays * 24 + hours) * 60 + minutes) * 60 + Number(seconds);
    return String(Math.trunc(numberOfSeconds * 1e6));
  };
}

/** bytea ("\x0a0b") as base64 (Debezium's bytes in JSON) or hex. */
function binaryEncoder(mode: EncodingOptions['binaryHandlingMode']): Encoder {
  if (mode === 'hex') return (text) => `"${text.slice(2)}"`;
  return (text) => `"${Buffer.from(text.slice(2), 'hex').toString('base64')}"`;
}

/** Big-endian two's-complement bytes of an integer, as few as Java's BigInteger.toByteArray gives, in base64. */
export function unscaledBase64(digits: string, negative: boolean): string {
  // Up to 14 digits the value and its two's complement stay exact in a double.
  if (digits.length <= 14) {
    const magnitude = Number(digits);
    const value = negative ? -magnitude : magnitude;
    let length = 1;
    while (value < -(2 ** (8 * length - 1)) || value >= 2 ** (8 * length - 1)) length += 1;
    let unsigned = value < 0 ? value + 2 ** (8 * length) : value;
    const bytes = Buffer.allocUnsafe(length);
    for (let index = length - 1; index >= 0; index -= 1) {
      const byte = unsigned % 256;
      bytes[index] = byte;
      unsigned = (unsigned - byte) / 256;
    }
    return bytes.toString('base64');
  }
  const value = negative ? -BigInt(digits) : BigInt(digits);
  let length = 1;
  while (value < -(1n << BigInt(8 * length - 1)) || value >= 1n << BigInt(8 * length - 1)) length += 1;
  const unsigned = value < 0n ? (1n << BigInt(8 * length)) + value : value;
  return Buffer.from(unsigned.toString(16).padStart(2 * length, '0'), 'hex').toString('base64');
}

/** Splits Postgres' numeric text ("-12.50") into sign, unscaled digits and scale. */
function splitDecimal(text: string): { negative: boolean; digits: string; scale: number } {
  const negative = text.charCodeAt(0) === 45;
  const body = negative ? text.slice(1) : text;
  const point = body.indexOf('.');
  if (point < 0) return { negative, digits: body, scale: 0 };
  return { negative, digits: body.slice(0, point) + body.slice(point + 1), scale: body.length - point - 1 };
}

/**
 * numeric under decimal.handling.mode. precise: a constrained numeric(p,s) is io.debezium's Decimal (base64 of
 * the unscaled value, the scale being the column's); an unconstrained numeric is VariableScaleDecimal
 * {"scale":s,"value":base64} with trailing zeros stripped. NaN and infinities are null in precise mode.
 */
function numericEncoder(typeMod: number, mode: EncodingOptions['decimalHandlingMode']): Encoder {
  if (mode === 'double') return asFloatFromNumeric;
  if (mode === 'string') return (text) => `"${text}"`;
  const variable = typeMod < 4;
  return (text) => {
    const first = text.charCodeAt(0);
    if (first === 78 /* NaN */ || first === 73 /* Infinity */ || text === '-Infinity') return 'null';
    const split = splitDecimal(text);
    const negative = split.negative;
    let { digits, scale } = split;
    if (!variable) return `"${unscaledBase64(digits, negative)}"`;
    while (scale > 0 && digits.endsWith('0')) {
      digits = digits.slice(0, -1);
      scale -= 1;
    }
    digits = digits.replace(/^0+(?=\d)/, '');
    return `{"scale":${scale},"value":"${unscaledBase64(digits, negative && digits !== '0')}"}`;
  };
}

const asFloatFromNumeric: Encoder = (text) => {
  const first = text.charCodeAt(0);
  if (first === 78 || first === 73 || text === '-Infinity') return `"${text}"`;
  return String(Number(text));
};

/** money (lc_monetary C: "-$1,234.56") as a numeric(…,2) under decimal.handling.mode. */
function moneyEncoder(mode: EncodingOptions['decimalHandlingMode']): Encoder {
  const decimal = numericEncoder(2 + 4, mode);
  return (text) => decimal(text.replace(/[$,]/g, ''));
}

/** bit(1) is a boolean; longer bit strings stay text. */
function bitEncoder(typeMod: number): Encoder {
  return typeMod === 1 ? (text) => (text === '1' ? 'true' : 'false') : asString;
}

/** Precision of a time type's modifier: 6 when unconstrained. */
function precisionOf(typeMod: number): number {
  return typeMod < 0 ? 6 : typeMod;
}

function scalarEncoder(oid: number, typeMod: number, options: EncodingOptions): Encoder {
  switch (oid) {
    case OID.int2:
    case OID.int4:
    case OID.int8:
    case OID.oid:
      return asIs;
    case OID.float4:
    case OID.float8:
      return asFloat;
    case OID.bool:
      return asBoolean;
    case OID.numeric:
      return numericEncoder(typeMod, options.decimalHandlingMode);
    case OID.money:
      return moneyEncoder(options.decimalHandlingMode);
    case OID.date:
      return asDays;
    case OID.time:
      return timeEncoder(typeMod);
    case OID.timestamp:
      return timestampEncoder(typeMod);
    case OID.timestamptz:
      return zonedTimestampEncoder(typeMod);
    case OID.timetz:
      return asZonedTime;
    case OID.interval:
      return intervalEncoder(options.intervalHandlingMode);
    case OID.bytea:
      return binaryEncoder(options.binaryHandlingMode);
    case OID.bit:
    case OID.varbit:
      return bitEncoder(typeMod);
    default:
      // text, varchar, char, name, json, jsonb, xml, uuid, inet, enums, ranges, and every type without an encoding.
      return asString;
  }
}

// --- arrays ---------------------------------------------------------------------------------------------------

/**
 * Postgres' array text ("{1,NULL,\"a b\"}", nested for several dimensions, optionally "[0:1]={...}") as a JSON
 * array of the element encoding.
 */
function arrayEncoder(element: Encoder): Encoder {
  return (text) => {
    let position = text.charCodeAt(0) === 91 /* [ */ ? text.indexOf('=') + 1 : 0;
    let out = '';
    let needsComma = false;
    while (position < text.length) {
      const char = text.charCodeAt(position);
      if (char === 123 /* { */) {
        out += needsComma ? ',[' : '[';
        needsComma = false;
        position += 1;
      } else if (char === 125 /* } */) {
        out += ']';
        needsComma = true;
        position += 1;
      } else if (char === 44 /* , */) {
        position += 1;
      } else if (char === 34 /* " */) {
        let value = '';
        position += 1;
        while (text.charCodeAt(position) !== 34) {
          if (text.charCodeAt(position) === 92 /* \ */) position += 1;
          value += text[position];
          position += 1;
        }
        position += 1;
        out += (needsComma ? ',' : '') + element(value);
        needsComma = true;
      } else {
        let end = position;
        while (end < text.length && text.charCodeAt(end) !== 44 && text.charCodeAt(end) !== 125) end += 1;
        const value = text.slice(position, end);
        out += (needsComma ? ',' : '') + (value.length === 4 && value.toUpperCase() === 'NULL' ? 'null' : element(value));
        needsComma = true;
        position = end;
      }
    }
    return out;
  };
}

// --- unchanged TOAST placeholders ------------------------------------------------------------------------------

/** Java's UUID.nameUUIDFromBytes (version 3, MD5). */
function nameUuid(bytes: Buffer): string {
  const hash = createHash('md5').update(bytes).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x30;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Debezium's stand-in for an unsent TOASTed value of this type (UnchangedToastedPlaceholder). */
function unavailableFor(type: ColumnType, options: EncodingOptions): string {
  const placeholder = options.unavailableValuePlaceholder;
  const bytes = Buffer.from(placeholder, 'utf8');
  if (type.elementOid === undefined) {
    if (type.oid === OID.bytea) return options.binaryHandlingMode === 'hex' ? `"${bytes.toString('hex')}"` : `"${bytes.toString('base64')}"`;
    return JSON.stringify(placeholder);
  }
  switch (type.elementOid) {
    case OID.int2:
    case OID.int4:
    case OID.int8:
      return `[${[...bytes].map((byte) => (byte > 127 ? byte - 256 : byte)).join(',')}]`;
    case OID.bytea:
      return `["${bytes.toString('base64')}"]`;
    case OID.uuid:
      return `["${nameUuid(bytes)}"]`;
    default:
      return `[${JSON.stringify(placeholder)}]`;
  }
}

/** The type with a built-in array type's element filled in. */
export function resolveArray(type: ColumnType): ColumnType {
  if (type.elementOid !== undefined) return type;
  const elementOid = ARRAY_ELEMENTS.get(type.oid);
  return elementOid === undefined ? type : { ...type, elementOid };
}

/** The encoder and TOAST stand-in of one column, built once per relation message. */
export function columnCodec(columnType: ColumnType, options: EncodingOptions): ColumnCodec {
  const type = resolveArray(columnType);
  const encode = type.elementOid === undefined
    ? scalarEncoder(type.oid, type.typeMod, options)
    : arrayEncoder(scalarEncoder(type.elementOid, type.typeMod, options));
  return { encode, unavailable: unavailableFor(type, options) };
}
