import mysql from 'mysql2/promise';
import { startWordpress, stopWordpress, type RunningWordpress } from '../../infra';
import { testMysqlUrl } from './mysql';
import { portBelowEphemeralRange } from './ports';

/** A cold machine installs WordPress's packages (about 40 s) before its installer runs. */
export const WORDPRESS_COLD_START_MS = 8 * 60_000;

export interface PrivateWordpress extends RunningWordpress {
  stop(): Promise<void>;
}

/**
 * A new WordPress of a test file's own (`name`: its database `sfg_<name>`, dropped first, its config file and
 * credentials), on a free port: what other test files and earlier runs wrote cannot show up as drift or in this
 * file's lists. Set up in about a second once the packages are installed; stop() stops the server.
 */
export async function startPrivateWordpress(name: string, users = 2): Promise<PrivateWordpress> {
  const database = `sfg_${name.replace(/-/g, '_')}`;
  const admin = await mysql.createConnection({ uri: testMysqlUrl() });
  try {
    await admin.query(`drop database if exists \`${database}\``);
  } finally {
    await admin.end();
  }
  const wordpress = await startWordpress({
    name,
    database,
    port: await portBelowEphemeralRange(),
    users,
    log: (line) => process.stderr.write(`[${name}] ${line}\n`),
  });
  const { installMs, setupMs, startMs, totalMs } = wordpress.timings;
  process.stderr.write(`[${name}] ${wordpress.url} in ${totalMs} ms (install ${installMs} ms, setup ${setupMs} ms, REST answered ${startMs} ms after spawn)\n`);
  return { ...wordpress, stop: () => stopWordpress({ name }).then(() => undefined) };
}

/** A WordPress REST call: `route` below /wp-json/wp/v2, JSON in and out. */
export async function wpRest(base: string, method: string, route: string, authorization?: string, body?: unknown) {
  const response = await fetch(`${base}/wp-json/wp/v2${route}`, {
    method,
    headers: { ...(authorization ? { authorization } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text === '' ? undefined : JSON.parse(text)) as Record<string, unknown> & Record<string, unknown>[] };
}
