import { decodeMySqlValue, encodeMySqlValue, isMySqlUrl, mySqlKindOf, MySqlDatabase } from '../../sync';

describe('MySQL/MariaDB values, decoded by meaning', () => {
  it('takes bit(1) as boolean, tinyint(1) and other integers as numbers, decimal as decimal, MariaDB json by its check', () => {
    // tinyint(1) keeps its number, as the binlog capture's records do: the service's boolean type compares it.
    expect(mySqlKindOf('tinyint', 'tinyint(1)')).toBe('integer');
    expect(mySqlKindOf('tinyint', 'tinyint(1) unsigned')).toBe('integer');
    expect(mySqlKindOf('bit', 'bit(1)')).toBe('boolean');
    expect(mySqlKindOf('tinyint', 'tinyint(4)')).toBe('integer');
    expect(mySqlKindOf('int', 'int(10) unsigned')).toBe('integer');
    expect(mySqlKindOf('bigint', 'bigint(20) unsigned')).toBe('bigint');
    expect(mySqlKindOf('decimal', 'decimal(12,4)')).toBe('decimal');
    expect(mySqlKindOf('double', 'double')).toBe('float');
    expect(mySqlKindOf('datetime', 'datetime(6)')).toBe('datetime');
    expect(mySqlKindOf('timestamp', 'timestamp')).toBe('datetime');
    expect(mySqlKindOf('date', 'date')).toBe('date');
    expect(mySqlKindOf('json', 'json')).toBe('json');
    expect(mySqlKindOf('longtext', 'longtext', true)).toBe('json');
    expect(mySqlKindOf('longtext', 'longtext')).toBe('text');
    expect(mySqlKindOf('varchar', 'varchar(64)')).toBe('text');
    expect(mySqlKindOf('enum', "enum('a','b')")).toBe('text');
    expect(mySqlKindOf('blob', 'blob')).toBe('binary');
    expect(mySqlKindOf('varbinary', 'varbinary(16)')).toBe('binary');
  });

  it('decodes each value to what node-postgres answers for the equivalent Postgres type', () => {
    expect(decodeMySqlValue('boolean', 1)).toBe(true);
    expect(decodeMySqlValue('boolean', 0)).toBe(false);
    expect(decodeMySqlValue('boolean', Buffer.from([1]))).toBe(true);
    expect(decodeMySqlValue('integer', 42)).toBe(42);
    // Exact text, as pg answers int8 and numeric: no rounding through a double.
    expect(decodeMySqlValue('bigint', '18446744073709551615')).toBe('18446744073709551615');
    expect(decodeMySqlValue('decimal', '12.3400')).toBe('12.3400');
    expect(decodeMySqlValue('float', '1.5')).toBe(1.5);
    expect(decodeMySqlValue('json', '{"b":1,"a":[1,2]}')).toEqual({ a: [1, 2], b: 1 });
    expect(decodeMySqlValue('json', { a: 1 })).toEqual({ a: 1 });
    expect(decodeMySqlValue('text', Buffer.from('héllo'))).toBe('héllo');
    expect(decodeMySqlValue('date', '2024-02-29')).toBe('2024-02-29');
    for (const kind of ['boolean', 'integer', 'bigint', 'decimal', 'datetime', 'json', 'text'] as const) {
      expect(decodeMySqlValue(kind, null)).toBeNull();
    }
  });

  it('reads a DATETIME in the configured zone, microseconds kept, and a zero date as null', () => {
    expect(decodeMySqlValue('datetime', '2024-03-01 12:00:00.123456')).toBe('2024-03-01T12:00:00.123456+00:00');
    const local = decodeMySqlValue('datetime', '2024-03-01 12:00:00', '+02:00') as string;
    expect(local).toBe('2024-03-01T12:00:00+02:00');
    expect(new Date(local).toISOString()).toBe('2024-03-01T10:00:00.000Z');
    expect(decodeMySqlValue('datetime', '0000-00-00 00:00:00')).toBeNull();
    expect(decodeMySqlValue('date', '0000-00-00')).toBeNull();
  });

  it('encodes values back from the shapes it decodes to, datetimes into the configured zone', () => {
    expect(encodeMySqlValue('boolean', true)).toBe(1);
    expect(encodeMySqlValue('integer', false)).toBe(0);
    expect(encodeMySqlValue('decimal', '12.5000')).toBe('12.5000');
    expect(encodeMySqlValue('bigint', '18446744073709551615')).toBe('18446744073709551615');
    expect(encodeMySqlValue('json', { a: [1, null] })).toBe('{"a":[1,null]}');
    expect(encodeMySqlValue('json', 'text')).toBe('"text"');
    expect(encodeMySqlValue('date', '2024-02-29')).toBe('2024-02-29');
    expect(encodeMySqlValue('text', undefined)).toBeNull();
    expect(encodeMySqlValue('datetime', '2024-03-01T12:00:00.123456+02:00', '+02:00')).toBe('2024-03-01 12:00:00.123456');
    expect(encodeMySqlValue('datetime', '2024-03-01T00:30:00.5Z', '+02:00')).toBe('2024-03-01 02:30:00.5');
    expect(encodeMySqlValue('datetime', '2024-03-01T00:30:00-05:30', '+00:00')).toBe('2024-03-01 06:00:00');
    expect(encodeMySqlValue('datetime', new Date('2024-12-31T23:00:00.250Z'), '+02:00')).toBe('2025-01-01 01:00:00.250');
    expect(encodeMySqlValue('datetime', '2024-03-01 12:00:00', '+02:00')).toBe('2024-03-01 12:00:00');
    expect(() => encodeMySqlValue('datetime', 'yesterday')).toThrow(/not an ISO 8601 datetime/);
    // What decode answers, encode takes back.
    const read = decodeMySqlValue('datetime', '2024-03-01 12:00:00.123456', '+02:00');
    expect(encodeMySqlValue('datetime', read, '+02:00')).toBe('2024-03-01 12:00:00.123456');
  });

  it('knows a MySQL URL and takes the zone from it, refusing one that is not an offset', async () => {
    expect(isMySqlUrl('mysql://root@127.0.0.1:3306/shop')).toBe(true);
    expect(isMySqlUrl('mariadb://root@db/shop')).toBe(true);
    expect(isMySqlUrl('postgres://postgres@127.0.0.1/shop')).toBe(false);
    const utc = new MySqlDatabase('mysql://root@127.0.0.1:1/shop');
    const berlin = new MySqlDatabase('mysql://root@127.0.0.1:1/shop?timezone=%2B01:00');
    const asTyped = new MySqlDatabase('mysql://root@127.0.0.1:1/shop?timezone=-05:00');
    const plus = new MySqlDatabase('mysql://root@127.0.0.1:1/shop?timezone=+05:30');
    expect([utc.timezone, berlin.timezone, asTyped.timezone, plus.timezone]).toEqual(['+00:00', '+01:00', '-05:00', '+05:30']);
    await Promise.all([utc.end(), berlin.end(), asTyped.end(), plus.end()]);
    expect(() => new MySqlDatabase('mysql://root@127.0.0.1:1/shop?timezone=Europe/Berlin')).toThrow('timezone must be an offset such as +02:00, or Z');
    expect(() => new MySqlDatabase('mysql://root@127.0.0.1:1/shop?timezone=%2B15:00')).toThrow("got '+15:00'");
  });
});
