import { columnCodec, UNAVAILABLE_VALUE_PLACEHOLDER, type ColumnType, type EncodingOptions } from '../../outbox/capture';
import { unscaledBase64 } from '../../outbox/capture/envelope';

const defaults: EncodingOptions = {
  decimalHandlingMode: 'precise',
  intervalHandlingMode: 'numeric',
  binaryHandlingMode: 'bytes',
  unavailableValuePlaceholder: UNAVAILABLE_VALUE_PLACEHOLDER,
};

/** numeric(p,s) and time precisions as Postgres stores them in atttypmod. */
const numericMod = (precision: number, scale: number) => ((precision << 16) | scale) + 4;
const encode = (type: ColumnType, text: string, options: Partial<EncodingOptions> = {}) => columnCodec(type, { ...defaults, ...options }).encode(text);
const parsed = (type: ColumnType, text: string, options: Partial<EncodingOptions> = {}) => JSON.parse(encode(type, text, options)) as unknown;

const OID = { bool: 16, bytea: 17, int8: 20, int2: 21, int4: 23, text: 25, json: 114, float4: 700, float8: 701, money: 790, varchar: 1043, date: 1082, time: 1083, timestamp: 1114, timestamptz: 1184, interval: 1186, timetz: 1266, bit: 1560, numeric: 1700, uuid: 2950, jsonb: 3802 };
const ARRAY = { int4: 1007, text: 1009, int8: 1016, numeric: 1231, timestamptz: 1185, uuid: 2951, bytea: 1001, jsonb: 3807 };
const plain = (oid: number, typeMod = -1): ColumnType => ({ oid, typeMod });

describe("Debezium's value encodings (Postgres connector, JSON without schemas)", () => {
  it('integers as JSON numbers, digits kept as Postgres wrote them (int8 beyond 2^53 too)', () => {
    expect(encode(plain(OID.int2), '-7')).toBe('-7');
    expect(encode(plain(OID.int4), '42')).toBe('42');
    expect(encode(plain(OID.int8), '9223372036854775807')).toBe('9223372036854775807');
  });

  it('floats as numbers; NaN and the infinities as the strings Jackson writes', () => {
    expect(parsed(plain(OID.float8), '1.5')).toBe(1.5);
    expect(parsed(plain(OID.float8), '1e+20')).toBe(1e20);
    expect(parsed(plain(OID.float4), '-0.25')).toBe(-0.25);
    expect(parsed(plain(OID.float8), 'NaN')).toBe('NaN');
    expect(parsed(plain(OID.float8), 'Infinity')).toBe('Infinity');
    expect(parsed(plain(OID.float8), '-Infinity')).toBe('-Infinity');
  });

  it('booleans, strings (escaped), json and jsonb as their text, uuid as a string', () => {
    expect(encode(plain(OID.bool), 't')).toBe('true');
    expect(encode(plain(OID.bool), 'f')).toBe('false');
    expect(parsed(plain(OID.text), 'Zoë "Z"\n\\ ok')).toBe('Zoë "Z"\n\\ ok');
    expect(parsed(plain(OID.varchar, 24), 'x')).toBe('x');
    expect(parsed(plain(OID.jsonb), '{"a": [1, 2]}')).toBe('{"a": [1, 2]}');
    expect(parsed(plain(OID.json), '{ "a":1 }')).toBe('{ "a":1 }');
    expect(parsed(plain(OID.uuid), '0e4f8d43-9a9a-4c1f-9f6e-1b2c3d4e5f60')).toBe('0e4f8d43-9a9a-4c1f-9f6e-1b2c3d4e5f60');
  });

  describe('numeric', () => {
    it('precise, constrained numeric(p,s): base64 of the unscaled two\'s-complement bytes (as BigInteger.toByteArray)', () => {
      const type = plain(OID.numeric, numericMod(10, 2));
      expect(parsed(type, '-12.50')).toBe('+x4='); // -1250 = fb 1e
      expect(parsed(type, '0.00')).toBe('AA==');
      expect(parsed(type, '1.28')).toBe('AIA='); // 128 needs a leading 00 byte
      expect(parsed(type, '-1.28')).toBe('gA==');
      expect(parsed(type, '-1.29')).toBe('/38=');
      expect(parsed(plain(OID.numeric, numericMod(30, 2)), '12345678901234567890.12')).toBe('Qu0SOwvYIDoU');
    });

    it('the fast path and the BigInt path agree at the 14-digit boundary', () => {
      expect(unscaledBase64('99999999999999', false)).toBe('WvMQej//');
      expect(unscaledBase64('99999999999999', true)).toBe('pQzvhcAB');
      expect(unscaledBase64('000150', false)).toBe('AJY=');
    });

    it('precise, unconstrained numeric: VariableScaleDecimal {scale, value} with trailing zeros stripped', () => {
      const type = plain(OID.numeric);
      expect(parsed(type, '3.1400')).toEqual({ scale: 2, value: 'ATo=' });
      expect(parsed(type, '100')).toEqual({ scale: 0, value: 'ZA==' });
      expect(parsed(type, '-0.50')).toEqual({ scale: 1, value: '+w==' });
      expect(parsed(type, '0.000')).toEqual({ scale: 0, value: 'AA==' });
      expect(parsed(type, 'NaN')).toBeNull();
    });

    it('double and string modes', () => {
      expect(parsed(plain(OID.numeric, numericMod(10, 2)), '-12.50', { decimalHandlingMode: 'double' })).toBe(-12.5);
      expect(parsed(plain(OID.numeric), 'NaN', { decimalHandlingMode: 'double' })).toBe('NaN');
      expect(parsed(plain(OID.numeric, numericMod(10, 2)), '-12.50', { decimalHandlingMode: 'string' })).toBe('-12.50');
    });

    it('money (lc_monetary C) as a numeric with 2 fraction digits', () => {
      expect(parsed(plain(OID.money), '-$1,234.56')).toBe('/h3A'); // -123456
      expect(parsed(plain(OID.money), '$1,234.56', { decimalHandlingMode: 'double' })).toBe(1234.56);
    });
  });

  describe('time (time.precision.mode=adaptive)', () => {
    it('date: days since the epoch, before it negative', () => {
      expect(parsed(plain(OID.date), '2024-05-01')).toBe(19844);
      expect(parsed(plain(OID.date), '1969-12-31')).toBe(-1);
      expect(parsed(plain(OID.date), '0099-01-01')).toBe(-683368);
      // Debezium 3.6.1 writes the JDBC driver's stand-in for infinity through its Date conversion (seen on real Debezium).
      expect(parsed(plain(OID.date), 'infinity')).toBe(-2147472692);
      expect(parsed(plain(OID.date), '-infinity')).toBe(-2147472691);
      expect(parsed(plain(OID.date), '0044-03-15 BC')).toBe(-735160);
    });

    it('time: microseconds past midnight (milliseconds at precision 0-3)', () => {
      expect(parsed(plain(OID.time), '10:00:00.123456')).toBe(36_000_123_456);
      expect(parsed(plain(OID.time), '10:00:00.5')).toBe(36_000_500_000);
      expect(parsed(plain(OID.time, 3), '10:00:00.123')).toBe(36_000_123);
      expect(parsed(plain(OID.time), '24:00:00')).toBe(86_400_000_000);
    });

    it('timestamp: microseconds since the epoch (MicroTimestamp), milliseconds at precision 0-3 (Timestamp)', () => {
      expect(parsed(plain(OID.timestamp), '2024-05-01 10:00:00.5')).toBe(1_714_557_600_500_000);
      expect(parsed(plain(OID.timestamp), '2024-05-01 10:00:00')).toBe(1_714_557_600_000_000);
      expect(parsed(plain(OID.timestamp), '1969-12-31 23:59:59.999999')).toBe(-1);
      expect(parsed(plain(OID.timestamp, 3), '2024-05-01 10:00:00.123')).toBe(1_714_557_600_123);
    });

    it('timestamptz: ZonedTimestamp in UTC with exactly the column precision in fraction digits', () => {
      expect(parsed(plain(OID.timestamptz), '2024-05-01 10:00:00.123456+00')).toBe('2024-05-01T10:00:00.123456Z');
      expect(parsed(plain(OID.timestamptz), '2024-05-01 10:00:00.12+00')).toBe('2024-05-01T10:00:00.120000Z');
      expect(parsed(plain(OID.timestamptz), '2024-05-01 10:00:00+00')).toBe('2024-05-01T10:00:00.000000Z');
      expect(parsed(plain(OID.timestamptz, 3), '2024-05-01 10:00:00.1+00')).toBe('2024-05-01T10:00:00.100Z');
      expect(parsed(plain(OID.timestamptz, 0), '2024-05-01 10:00:00+00')).toBe('2024-05-01T10:00:00Z');
      expect(parsed(plain(OID.timestamptz), 'infinity')).toBe('infinity');
    });

    it('timetz: ZonedTime shifted to UTC', () => {
      expect(parsed(plain(OID.timetz), '10:00:00.5+02')).toBe('08:00:00.5Z');
      expect(parsed(plain(OID.timetz), '01:00:00-05:30')).toBe('06:30:00Z');
      expect(parsed(plain(OID.timetz), '23:00:00-02')).toBe('01:00:00Z');
    });

    it('interval: MicroDuration (a month is 365.25/12 days) or, in string mode, an ISO 8601 duration', () => {
      expect(parsed(plain(OID.interval), 'P1Y2M3DT4H5M6.789S')).toBe(37_091_106_789_000);
      expect(parsed(plain(OID.interval), 'P-1YT-4H-5M-6.5S')).toBe(-31_572_306_500_000);
      expect(parsed(plain(OID.interval), 'PT0S')).toBe(0);
      expect(parsed(plain(OID.interval), 'P1Y2M3DT4H5M6.789S', { intervalHandlingMode: 'string' })).toBe('P1Y2M3DT4H5M6.789S');
      expect(parsed(plain(OID.interval), 'P-1Y', { intervalHandlingMode: 'string' })).toBe('P-1Y0M0DT0H0M0S');
    });
  });

  it('bytea as base64 (binary.handling.mode bytes), or hex', () => {
    expect(parsed(plain(OID.bytea), '\\x0102ff')).toBe('AQL/');
    expect(parsed(plain(OID.bytea), '\\x')).toBe('');
    expect(parsed(plain(OID.bytea), '\\x0102ff', { binaryHandlingMode: 'hex' })).toBe('0102ff');
  });

  it('bit(1) as a boolean', () => {
    expect(encode(plain(OID.bit, 1), '1')).toBe('true');
  });

  it('a type without an encoding (an enum, a domain not resolved, an extension type) as its text', () => {
    expect(parsed(plain(987_654), 'shipped')).toBe('shipped');
  });

  describe('arrays: JSON arrays of the element encoding', () => {
    it('NULL elements, quoting, escapes, several dimensions, empty, explicit bounds', () => {
      expect(parsed(plain(ARRAY.int4), '{1,2,NULL}')).toEqual([1, 2, null]);
      expect(parsed(plain(ARRAY.text), '{a,"b c","NULL",NULL,"q\\"x","back\\\\slash"}')).toEqual(['a', 'b c', 'NULL', null, 'q"x', 'back\\slash']);
      expect(parsed(plain(ARRAY.int8), '{{1,2},{3,4}}')).toEqual([[1, 2], [3, 4]]);
      expect(parsed(plain(ARRAY.int4), '{}')).toEqual([]);
      expect(parsed(plain(ARRAY.int4), '[0:1]={5,6}')).toEqual([5, 6]);
    });

    it('element types keep their encodings and the column type modifier', () => {
      expect(parsed(plain(ARRAY.numeric, numericMod(5, 2)), '{1.50,-2.00}')).toEqual(['AJY=', '/zg=']);
      expect(parsed(plain(ARRAY.timestamptz), '{"2024-05-01 10:00:00+00",NULL}')).toEqual(['2024-05-01T10:00:00.000000Z', null]);
      expect(parsed(plain(ARRAY.jsonb), '{"{\\"a\\": 1}"}')).toEqual(['{"a": 1}']);
      expect(parsed(plain(ARRAY.bytea), '{"\\\\x01"}')).toEqual(['AQ==']);
    });

    it('an array of a type the catalog resolved (enum[], domain[]) uses the element type given', () => {
      expect(parsed({ oid: 555_001, typeMod: -1, elementOid: OID.int4 }, '{7,8}')).toEqual([7, 8]);
      expect(parsed({ oid: 555_002, typeMod: -1, elementOid: 555_003 }, '{open,closed}')).toEqual(['open', 'closed']);
    });
  });

  describe('unchanged TOAST placeholders (UnchangedToastedPlaceholder)', () => {
    const unavailable = (type: ColumnType, options: Partial<EncodingOptions> = {}) => JSON.parse(columnCodec(type, { ...defaults, ...options }).unavailable) as unknown;
    it('strings and json the placeholder, bytea its bytes, arrays one element or the bytes as numbers', () => {
      expect(unavailable(plain(OID.text))).toBe('__debezium_unavailable_value');
      expect(unavailable(plain(OID.jsonb))).toBe('__debezium_unavailable_value');
      expect(unavailable(plain(OID.bytea))).toBe('X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==');
      expect(unavailable(plain(ARRAY.text))).toEqual(['__debezium_unavailable_value']);
      expect(unavailable(plain(ARRAY.int4))).toEqual([...Buffer.from('__debezium_unavailable_value')]);
      expect(unavailable(plain(ARRAY.uuid))).toEqual(['b68a35a7-17ad-35b3-af2a-ae46edb4545a']);
    });

    it('follows unavailableValuePlaceholder', () => {
      expect(unavailable(plain(OID.text), { unavailableValuePlaceholder: '<toasted>' })).toBe('<toasted>');
    });
  });
});
