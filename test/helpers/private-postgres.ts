import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { portBelowEphemeralRange } from './ports';

const run = promisify(execFile);

/** Debian's server binaries for the machine's major version (the shared server's own). */
function serverBinaries(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((name) => fs.existsSync(path.join(root, name, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL server binaries under ${root} (apt-get install postgresql)`);
  return path.join(root, newest, 'bin');
}

export interface PrivatePostgres {
  port: number;
  /** A connection string for database `postgres` on the private cluster. */
  url: string;
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /**
   * Stops the server and starts it again after `downMs`: `fast` disconnects every session and checkpoints,
   * `immediate` is a crash and recovery.
   */
  restart(mode?: 'fast' | 'immediate', downMs?: number): Promise<void>;
  /** Stops the server and deletes its data directory. */
  destroy(): Promise<void>;
}

/**
 * A PostgreSQL cluster of its own (initdb in a temp directory, another port), for faults the shared server must
 * never see: restarts, WAL removal. As root, the server runs as the `postgres` user, which Postgres requires.
 */
export async function startPrivatePostgres(settings: Record<string, string | number> = {}, initdbArgs: string[] = []): Promise<PrivatePostgres> {
  const bin = serverBinaries();
  const asRoot = process.getuid?.() === 0;
  const exec = (command: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, command), ...args]) : run(path.join(bin, command), args);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-private-pg-'));
  if (asRoot) await run('chown', ['postgres:postgres', dataDir]);
  await exec('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', ...initdbArgs]);
  const port = await portBelowEphemeralRange();
  const serverOptions = Object.entries({
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: dataDir,
    wal_level: 'logical',
    fsync: 'off',
    ...settings,
  })
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
  const logFile = path.join(dataDir, 'server.log');
  const pgCtl = (args: string[]) => exec('pg_ctl', ['-D', dataDir, '-w', '-t', '60', ...args]);
  await pgCtl(['-l', logFile, '-o', serverOptions, 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    port,
    url,
    async query<R extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<R>(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    async restart(mode = 'fast', downMs = 0) {
      await pgCtl(['-m', mode, 'stop']);
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await pgCtl(['-l', logFile, '-o', serverOptions, 'start']);
    },
    async destroy() {
      await pgCtl(['-m', 'immediate', 'stop']).catch(() => undefined);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
