import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { InfraError } from './errors';
import { infraPaths, ROOT_DIR, type InfraEnvironment, type InfraPaths } from './options';
import { ensureDebianPackage } from './packages';
import { httpCheck, httpOk, logFile, retrying, startDaemon, startedPid, stopDaemon, type DaemonSpec } from './process';
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
  return httpOk(readyUrl(prometheusUrl)).catch(() => false);
}

function readyUrl(prometheusUrl: string): string {
  return `${prometheusUrl.replace(/\/+$/, '')}/-/ready`;
}

const PROMETHEUS_PACKAGE = { command: 'prometheus', pkg: 'prometheus', purpose: 'metrics and alert rules' };

function prometheusArgs(configFile: string, dataDir: string, listen: string): string[] {
  return [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=${listen}`,
    '--web.enable-lifecycle',
    '--storage.tsdb.retention.time=2d',
    '--log.level=warn',
  ];
}

async function startPrometheusDaemon(paths: InfraPaths, name: string, address: string, args: string[], owner?: DaemonSpec['owner']): Promise<number> {
  const pid = startDaemon(paths, { name, command: 'prometheus', args, owner });
  await retrying(name, () => httpCheck(readyUrl(address)), {
    address,
    timeoutMs: 60_000,
    logPath: logFile(paths, name),
    pid,
  });
  return pid;
}

/**
 * Reuses a running Prometheus, or starts Debian's `prometheus` with the project's configuration, installing the
 * package first when it is missing and this process may. When it can be neither started nor installed, says so in
 * one line and returns an unhealthy status: the demo runs on without metrics being scraped.
 */
export async function prometheusUp(env: InfraEnvironment, paths: InfraPaths, log: (line: string) => void): Promise<ServiceStatus> {
  const address = env.prometheusUrl;
  fs.mkdirSync(prometheusTargetsDir(paths), { recursive: true });
  if (env.external.prometheus || (await prometheusHealthy(address))) {
    await retrying('prometheus', () => httpCheck(readyUrl(address)), { address, timeoutMs: 30_000 });
    return { name: 'prometheus', address, healthy: true, startedByUs: startedPid(paths, 'prometheus') !== undefined, startedNow: false };
  }
  const installed = ensureDebianPackage(PROMETHEUS_PACKAGE, log);
  if (!installed.available) {
    log(`prometheus: skipped (${installed.reason}, or set PROMETHEUS_URL); everything else runs, but nothing is scraped`);
    return { name: 'prometheus', address, healthy: false, startedByUs: false, startedNow: false, detail: 'skipped: not installed' };
  }
  log(`prometheus: starting on ${address}`);
  await startPrometheusDaemon(paths, 'prometheus', address, prometheusArgs(PROMETHEUS_CONFIG, path.join(paths.dataDir, 'prometheus'), new URL(address).host));
  return { name: 'prometheus', address, healthy: true, startedByUs: true, startedNow: true };
}

export interface PrivatePrometheus {
  url: string;
  /** file_sd folder this instance watches: one JSON file of targets per registration. */
  targetsDir: string;
  stop(): Promise<void>;
}

/**
 * A Prometheus of its own, on `port`, with the project's global settings and rules but no static scrape jobs: it
 * scrapes only what is registered in its targets folder. Test runs use one, so their series (and the alerts those
 * fire) never reach the Prometheus a demo or an SRE is watching. Throws when Prometheus cannot be made available.
 */
export async function startPrivatePrometheus(options: {
  name: string;
  port: number;
  dir: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** The process it serves: should that die without stopping it, reapOrphanedDaemons stops it and removes `dir`. */
  ownerPid?: number;
}): Promise<PrivatePrometheus> {
  const paths = infraPaths(options.env);
  const installed = ensureDebianPackage(PROMETHEUS_PACKAGE, options.log ?? (() => undefined));
  if (!installed.available) throw new InfraError('SFG_INFRA_MISSING_TOOL', `prometheus: ${installed.reason}`);
  const targetsDir = path.join(options.dir, 'targets');
  fs.mkdirSync(targetsDir, { recursive: true });
  const base = YAML.parse(fs.readFileSync(PROMETHEUS_CONFIG, 'utf8')) as { global: unknown; rule_files: string[] };
  const config = {
    global: base.global,
    rule_files: base.rule_files.map((pattern) => path.resolve(path.dirname(PROMETHEUS_CONFIG), pattern)),
    scrape_configs: [{ job_name: 'strangler-dynamic', file_sd_configs: [{ files: [path.join(targetsDir, '*.json')], refresh_interval: '1s' }] }],
  };
  const configFile = path.join(options.dir, 'prometheus.yml');
  fs.writeFileSync(configFile, YAML.stringify(config));
  const url = `http://127.0.0.1:${options.port}`;
  const owner = options.ownerPid === undefined ? undefined : { pid: options.ownerPid, ownedPaths: [options.dir] };
  await startPrometheusDaemon(paths, options.name, url, prometheusArgs(configFile, path.join(options.dir, 'data'), `127.0.0.1:${options.port}`), owner);
  return {
    url,
    targetsDir,
    async stop() {
      await stopDaemon(paths, options.name);
      fs.rmSync(options.dir, { recursive: true, force: true });
    },
  };
}
