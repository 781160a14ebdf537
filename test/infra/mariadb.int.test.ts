import mysql from 'mysql2/promise';
import { mariadbEnvironment, mariadbUp } from '../../infra';

describe('mariadbUp: the machine MariaDB with its binlog on (real MariaDB)', () => {
  it('finds the binlog on (the global setup turned it on when it was off) and changes nothing, saying nothing', async () => {
    const lines: string[] = [];
    const status = await mariadbUp(mariadbEnvironment(), (line) => lines.push(line));
    expect(lines).toEqual([]);
    expect(status).toMatchObject({ name: 'mariadb', healthy: true, startedNow: false });
    expect(status.detail).toContain('log_bin=ON binlog_format=ROW binlog_row_image=FULL');
    const connection = await mysql.createConnection({ uri: mariadbEnvironment().url });
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>(
        "show global variables where Variable_name in ('log_bin', 'binlog_format', 'binlog_row_image')",
      );
      expect(Object.fromEntries(rows.map((row) => [row.Variable_name, row.Value]))).toEqual({ log_bin: 'ON', binlog_format: 'ROW', binlog_row_image: 'FULL' });
    } finally {
      await connection.end();
    }
  });

  it('only checks a server named by MYSQL_URL', async () => {
    const environment = mariadbEnvironment({ MYSQL_URL: 'mysql://root@127.0.0.1:3306/' });
    expect(environment.external).toBe(true);
    const lines: string[] = [];
    await expect(mariadbUp(environment, (line) => lines.push(line))).resolves.toMatchObject({ healthy: true });
    expect(lines).toEqual([]);
  });
});
