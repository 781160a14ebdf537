import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { InfraError } from './errors';
import { ROOT_DIR, type InfraEnvironment, type InfraPaths } from './options';
import { commandExists, httpOk, logFile, startDaemon, startedPid, waitUntil } from './process';
import type { ServiceStatus } from './types';

export const PROMETHEUS_CONFIG = path.join(ROOT_DIR, 'dashboards', 'prometheus', 'prometheus.yml');

/** Scrape targets that tests and the demo register at run time (file_sd, watched by Prometheus). */
export function prometheusTargetsDir(paths: InfraPaths): string {
  return path.join(paths.stateDir, 'prometheus', 'targets');
}

interface FileSdJob {
  job_name: string;
  file_sd_configs?: Array<{ files?: string[] }>;
}

/**
 * Where the running Prometheus looks for `strangler-dynamic` file_sd targets. Asked from Prometheus itself, because the
 * instance may have been started from another checkout, whose `.infra/` is not ours.
 */
export async function runningPrometheusTargetsDir(prometheusUrl: string): Promise<string | undefined> {
  const api = (endpoint: string) =>
    fetch(new URL(endpoint, prometheusUrl), { signal: AbortSignal.timeout(3000) }).then((response) => response.json());
  const flags = (await api('/api/v1/status/flags')) as { data: Record<string, string> };
  const config = (await api('/api/v1/status/config')) as { data: { yaml: string } };
  const jobs = (YAML.parse(config.data.yaml).scrape_configs ?? []) as FileSdJob[];
  const pattern = jobs.find((job) => job.job_name === 'strangler-dynamic')?.file_sd_configs?.[0]?.files?.[0];
  const configFile = flags.data['config.file'];
  if (!pattern || !configFile) return undefined;
  return path.dirname(path.resolve(path.dirname(configFile), pattern));
}

export function prometheusHealthy(prometheusUrl: string): Promise<boolean> {
  return httpOk(`${prometheusUrl.replace(/\/+$/, '')}/-/ready`).catch(() => false);
}

export async function prometheusUp(env: InfraEnvironment, paths: InfraPaths, log: (line: string) => void): Promise<ServiceStatus> {
  const address = env.prometheusUrl;
  fs.mkdirSync(prometheusTargetsDir(paths), { recursive: true });
  if (env.external.prometheus || (await prometheusHealthy(address))) {
    await waitUntil(`prometheus at ${address}`, () => prometheusHealthy(address), { timeoutMs: 10_000 });
    return { name: 'prometheus', address, healthy: true, startedByUs: startedPid(paths, 'prometheus') !== undefined, startedNow: false };
  }
  if (!commandExists('prometheus')) {
    throw new InfraError('SFG_INFRA_MISSING_TOOL', 'prometheus not found: apt-get install prometheus, or set PROMETHEUS_URL');
  }
  const listen = new URL(address).host;
  log(`prometheus: starting on ${address}`);
  const pid = startDaemon(paths, {
    name: 'prometheus',
    command: 'prometheus',
    args: [
      `--config.file=${PROMETHEUS_CONFIG}`,
      `--storage.tsdb.path=${path.join(paths.dataDir, 'prometheus')}`,
      `--web.listen-address=${listen}`,
      '--web.enable-lifecycle',
      '--storage.tsdb.retention.time=2d',
      '--log.level=warn',
    ],
  });
  await waitUntil('prometheus', () => prometheusHealthy(address), {
    timeoutMs: 60_000,
    logPath: logFile(paths, 'prometheus'),
    pid,
  });
  return { name: 'prometheus', address, healthy: true, startedByUs: true, startedNow: true };
}
