import path from 'node:path';
import { DEFAULTS, ROOT_DIR, withDatabase, type InfraEnvironment, type InfraPaths } from './options';
import { ensureDatabase } from './postgres';
import { httpCheck, httpOk, logFile, retrying, startDaemon, startedPid } from './process';
import type { ServiceStatus } from './types';

/** The server root, e.g. http://127.0.0.1:4242 for UNLEASH_URL=http://127.0.0.1:4242/api. */
export function unleashBaseUrl(unleashUrl: string): string {
  return unleashUrl.replace(/\/+$/, '').replace(/\/api$/, '');
}

export function unleashHealthy(unleashUrl: string): Promise<boolean> {
  return httpOk(`${unleashBaseUrl(unleashUrl)}/health`).catch(() => false);
}

export async function unleashUp(env: InfraEnvironment, paths: InfraPaths, log: (line: string) => void): Promise<ServiceStatus> {
  const address = unleashBaseUrl(env.unleashUrl);
  if (env.external.unleash || (await unleashHealthy(env.unleashUrl))) {
    await retrying('unleash', () => httpCheck(`${address}/health`), { address, timeoutMs: 30_000 });
    return { name: 'unleash', address, healthy: true, startedByUs: startedPid(paths, 'unleash') !== undefined, startedNow: false };
  }
  await ensureDatabase(env.databaseUrl, DEFAULTS.unleashDatabase);
  const url = new URL(address);
  log(`unleash: starting unleash-server on ${address}`);
  const pid = startDaemon(paths, {
    name: 'unleash',
    command: process.execPath,
    args: [path.join(ROOT_DIR, 'infra', 'unleash-server.js')],
    cwd: ROOT_DIR,
    env: {
      ...process.env,
      DATABASE_URL: withDatabase(env.databaseUrl, DEFAULTS.unleashDatabase),
      DATABASE_SSL: 'false',
      HTTP_HOST: url.hostname,
      HTTP_PORT: url.port || '4242',
      INIT_ADMIN_API_TOKENS: env.unleashAdminToken,
      INIT_BACKEND_API_TOKENS: env.unleashClientToken,
      LOG_LEVEL: 'warn',
      UNLEASH_TELEMETRY_DISABLED: 'true',
      CHECK_VERSION: 'false',
    },
  });
  await retrying('unleash-server', () => httpCheck(`${address}/health`), {
    address,
    timeoutMs: 120_000,
    intervalMs: 300,
    maxIntervalMs: 1000,
    logPath: logFile(paths, 'unleash'),
    pid,
  });
  return { name: 'unleash', address, healthy: true, startedByUs: true, startedNow: true };
}
