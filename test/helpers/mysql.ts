import mysql from 'mysql2/promise';
import { uniqueName } from './env';

/** The machine's MariaDB (or MYSQL_URL's server): the test setup turned its binlog on (infra/mariadb.ts). */
export function testMysqlUrl(): string {
  return process.env.MYSQL_URL || 'mysql://root@127.0.0.1:3306/';
}

export interface TestMysqlDatabase {
  name: string;
  /** mysql://…/<name> */
  url: string;
  pool: mysql.Pool;
  drop(): Promise<void>;
}

/** A database of its own on the MySQL/MariaDB server (name `<prefix>_<pid>_…`), dropped by drop(). */
export async function createTestMysqlDatabase(prefix: string, connectionLimit = 4): Promise<TestMysqlDatabase> {
  const name = uniqueName(prefix).slice(0, 60);
  const base = new URL(testMysqlUrl());
  const admin = await mysql.createConnection({ uri: base.toString() });
  try {
    await admin.query(`create database \`${name}\``);
  } finally {
    await admin.end();
  }
  base.pathname = `/${name}`;
  const url = base.toString();
  const pool = mysql.createPool({ uri: url, connectionLimit, multipleStatements: true });
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.query(`drop database if exists \`${name}\``).catch(() => undefined);
      await pool.end();
    },
  };
}
