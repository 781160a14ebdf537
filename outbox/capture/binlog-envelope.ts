import { unscaledBase64, type EncodingOptions } from './envelope';

/**
 * A MySQL/MariaDB column as information_schema.columns describes it: what its binlog values become in Debezium's
 * MySQL connector records (JSON converter, schemas.enable=false, the connector's defaults).
 */
export interface BinlogColumnType {
  /** DATA_TYPE, lower case: int, tinyint, decimal, datetime, ... */
  dataType: string;
  /** COLUMN_TYPE: `tinyint(1)`, `int(10) unsigned`, `enum('a','b')`, ... */
  columnType: string;
  /** NUMERIC_SCALE (decimal) */
  scale?: number | null;
  /** DATETIME_PRECISION (datetime, timestamp, time) */
  fsp?: number | null;
}

/** A binlog row value as the reader decodes it (mysql2's conventions, dates as strings, JSON as text). */
export type BinlogValue = string | number | bigint | boolean | Buffer | null | undefined | Record<string, unknown> | unknown[];

/** One binlog value -> its JSON text in the record (never called with null or undefined). */
export type BinlogEncoder = (value: Exclude<BinlogValue, null | undefined>) => string;

export type BinlogEncodingOptions = Pick<EncodingOptions, 'decimalHandlingMode' | 'binaryHandlingMode'>;

const MS_PER_DAY = 86_400_000;
const TWO_TO_64 = 1n << 64n;
const TWO_TO_63 = 1n << 63n;

const asNumberText: BinlogEncoder = (value) => String(value);
const asString: BinlogEncoder = (value) => JSON.stringify(typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : String(value));

/** bigint unsigned under bigint.unsigned.handling.mode=long: a value past 2^63-1 wraps, as Java's long does. */
const asUnsignedBigint: BinlogEncoder = (value) => {
  const big = BigInt(value as string | number | bigint);
  return String(big >= TWO_TO_63 ? big - TWO_TO_64 : big);
};

/** float: Debezium's FLOAT32, written as Java's Float.toString would (the shortest text that reads back the same float). */
const asFloat32: BinlogEncoder = (value) => {
  const number = Number(value);
  if (!Number.isFinite(number)) return 'null';
  const single = Math.fround(number);
  for (let digits = 1; digits <= 9; digits += 1) {
    const text = single.toPrecision(digits);
    if (Math.fround(Number(text)) === single) return String(Number(text));
  }
  return String(single);
};

const asDouble: BinlogEncoder = (value) => {
  const number = Number(value);
  return Number.isFinite(number) ? String(number) : 'null';
};

function binaryEncoder(mode: BinlogEncodingOptions['binaryHandlingMode']): BinlogEncoder {
  return (value) => {
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
    return `"${mode === 'hex' ? bytes.toString('hex') : bytes.toString('base64')}"`;
  };
}

/** decimal(p,s) under decimal.handling.mode: precise is Debezium's Decimal, base64 of the unscaled value at the column's scale. */
function decimalEncoder(scale: number, mode: BinlogEncodingOptions['decimalHandlingMode']): BinlogEncoder {
  if (mode === 'double') return (value) => String(Number(value));
  if (mode === 'string') return (value) => `"${String(value)}"`;
  return (value) => {
    const text = String(value);
    const negative = text.charCodeAt(0) === 45;
    const body = negative ? text.slice(1) : text;
    const point = body.indexOf('.');
    const whole = point < 0 ? body : body.slice(0, point);
    const fraction = (point < 0 ? '' : body.slice(point + 1)).padEnd(scale, '0').slice(0, scale);
    const digits = `${whole}${fraction}`.replace(/^0+(?=\d)/, '');
    return `"${unscaledBase64(digits, negative && /[1-9]/.test(digits))}"`;
  };
}

/** "2024-01-02" -> days since the epoch (io.debezium.time.Date); a zero date is null. */
function daysOf(text: string): number | null {
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  const day = Number(text.slice(8, 10));
  if (month === 0 || day === 0) return null;
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  return Math.round(utc.getTime() / MS_PER_DAY);
}

/** "2024-01-02 03:04:05.123456" (the wall clock, taken as UTC, as Debezium does for datetime) -> epoch microseconds. */
function epochMicros(text: string): number | null {
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  const day = Number(text.slice(8, 10));
  if (month === 0 || day === 0) return null;
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(Number(text.slice(11, 13)) || 0, Number(text.slice(14, 16)) || 0, Number(text.slice(17, 19)) || 0, 0);
  const fraction = text.length > 20 ? Number(text.slice(20).padEnd(6, '0').slice(0, 6)) : 0;
  return utc.getTime() * 1000 + fraction;
}

const asDate: BinlogEncoder = (value) => {
  const days = daysOf(String(value));
  return days === null ? 'null' : String(days);
};

/** datetime(0-3): io.debezium.time.Timestamp (epoch ms); datetime(4-6): MicroTimestamp (epoch µs). time.precision.mode=adaptive_time_microseconds. */
function datetimeEncoder(fsp: number): BinlogEncoder {
  return (value) => {
    const micros = epochMicros(String(value));
    if (micros === null) return 'null';
    return fsp <= 3 ? String(Math.floor(micros / 1000)) : String(micros);
  };
}

/** timestamp(p): io.debezium.time.ZonedTimestamp, ISO-8601 in UTC with the column's fractional digits. */
function timestampEncoder(fsp: number): BinlogEncoder {
  return (value) => {
    const text = String(value);
    if (text.startsWith('0000-00-00')) return 'null';
    const seconds = text.slice(0, 19).replace(' ', 'T');
    if (fsp <= 0) return `"${seconds}Z"`;
    const fraction = (text.length > 20 ? text.slice(20) : '').padEnd(fsp, '0').slice(0, fsp);
    return `"${seconds}.${fraction}Z"`;
  };
}

/** time: io.debezium.time.MicroTime (µs, negative and past 24 h as MySQL allows). */
const asTime: BinlogEncoder = (value) => {
  const text = String(value);
  const negative = text.charCodeAt(0) === 45;
  const body = negative ? text.slice(1) : text;
  const [hours = '0', minutes = '0', rest = '0'] = body.split(':');
  const [seconds = '0', fraction = ''] = rest.split('.');
  const micros = ((Number(hours) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1_000_000 + Number(fraction.padEnd(6, '0').slice(0, 6));
  return String(negative ? -micros : micros);
};

/** bit(1) is a boolean; bit(n) is bytes, least significant byte first, as Debezium's Bits. */
function bitEncoder(columnType: string, binary: BinlogEncoder): BinlogEncoder {
  const width = Number(/\((\d+)\)/.exec(columnType)?.[1] ?? 1);
  if (width === 1) {
    return (value) => {
      if (Buffer.isBuffer(value)) return value.some((byte) => byte !== 0) ? 'true' : 'false';
      return value === true || Number(value) !== 0 ? 'true' : 'false';
    };
  }
  return (value) => {
    if (Buffer.isBuffer(value)) return binary(Buffer.from(value).reverse());
    let big = BigInt(value as number | string | bigint);
    const bytes: number[] = [];
    for (let index = 0; index < Math.ceil(width / 8); index += 1) {
      bytes.push(Number(big & 0xffn));
      big >>= 8n;
    }
    return binary(Buffer.from(bytes));
  };
}

/** JSON columns: io.debezium.data.Json, the document as a string. */
const asJson: BinlogEncoder = (value) => JSON.stringify(typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : JSON.stringify(value));

/** set('a','b'): the members as one comma-separated string (io.debezium.data.EnumSet). */
const asSet: BinlogEncoder = (value) => JSON.stringify(Array.isArray(value) ? value.join(',') : String(value));

/**
 * The encoder of one column, following Debezium's MySQL/MariaDB connector defaults: integers (tinyint(1) included,
 * it is INT16 unless a converter says boolean) and year as numbers, bigint unsigned as a long, float/double as
 * numbers, decimal under decimal.handling.mode, date as epoch days, datetime as epoch ms (µs past 3 fractional
 * digits), timestamp as an ISO-8601 UTC string, time as µs, character types, enum, set and json as strings,
 * binary types and geometry under binary.handling.mode (base64 in JSON), bit(1) as a boolean.
 */
export function binlogEncoder(column: BinlogColumnType, options: BinlogEncodingOptions): BinlogEncoder {
  const binary = binaryEncoder(options.binaryHandlingMode);
  const unsigned = /\bunsigned\b/i.test(column.columnType);
  switch (column.dataType.toLowerCase()) {
    case 'tinyint':
    case 'smallint':
    case 'mediumint':
    case 'int':
    case 'integer':
    case 'year':
      return asNumberText;
    case 'bigint':
      return unsigned ? asUnsignedBigint : asNumberText;
    case 'float':
      return asFloat32;
    case 'double':
    case 'real':
      return asDouble;
    case 'decimal':
    case 'numeric':
      return decimalEncoder(column.scale ?? 0, options.decimalHandlingMode);
    case 'date':
      return asDate;
    case 'datetime':
      return datetimeEncoder(column.fsp ?? 0);
    case 'timestamp':
      return timestampEncoder(column.fsp ?? 0);
    case 'time':
      return asTime;
    case 'bit':
      return bitEncoder(column.columnType, binary);
    case 'json':
      return asJson;
    case 'set':
      return asSet;
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
    case 'geometry':
    case 'point':
    case 'linestring':
    case 'polygon':
    case 'multipoint':
    case 'multilinestring':
    case 'multipolygon':
    case 'geometrycollection':
      return binary;
    default:
      // char, varchar, the text types, enum, and MariaDB's uuid, inet4, inet6 (decoded to their text form).
      return asString;
  }
}

/** A row value -> JSON text: null stays null, anything else goes through the column's encoder. */
export function encodeBinlogValue(encoder: BinlogEncoder, value: BinlogValue): string {
  return value === null || value === undefined ? 'null' : encoder(value);
}
