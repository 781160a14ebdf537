import { kafkaHealthy, kafkaUp } from './kafka';
import { infraPaths, ON_REQUEST_SERVICE_NAMES, resolveEnvironment, SERVICE_NAMES, type InfraEnvironment, type InfraPaths, type OnRequestServiceName, type ServiceName } from './options';
import { postgresStatus, postgresUp } from './postgres';
import { stopDaemon, startedPid } from './process';
import { prometheusHealthy, prometheusUp } from './prometheus';
import { redmineStartedByInfra, redmineStatus, startRedmine } from './redmine';
import type { ServiceStatus } from './types';
import { unleashBaseUrl, unleashHealthy, unleashUp } from './unleash';
import { startWordpress, wordpressStartedByInfra, wordpressStatus } from './wordpress';

export { InfraError } from './errors';
export { reapOrphanedDaemons } from './process';
export { DEFAULTS, resolveEnvironment, infraPaths, withDatabase, SERVICE_NAMES, ON_REQUEST_SERVICE_NAMES } from './options';
export type { InfraEnvironment, InfraPaths, OnRequestServiceName, ServiceName } from './options';
export type { ServiceStatus } from './types';
export { prometheusTargetsDir, runningPrometheusTargetsDir, startPrivatePrometheus, type PrivatePrometheus } from './prometheus';
export { ensureDebianPackage, installDebianPackages, type PackageOutcome } from './packages';
export { DEFAULT_MYSQL_URL, MARIADB_BINLOG_CONF, mariadbEnvironment, mariadbUp, type MariadbEnvironment, type MariadbStatus } from './mariadb';
export { unleashBaseUrl } from './unleash';
export {
  ensureRedmine,
  installedRedmineVersion,
  redmineHome,
  redmineMigrationVersions,
  redmineStartedByInfra,
  redmineStatus,
  startRedmine,
  stopRedmine,
  REDMINE_CONFIG_DIR,
  REDMINE_DEFAULTS,
  REDMINE_PACKAGES,
  type RedmineInstallation,
  type RedmineOptions,
  type RunningRedmine,
} from './redmine';
export {
  installedWordpressVersion,
  startWordpress,
  stopWordpress,
  wordpressHome,
  wordpressStartedByInfra,
  wordpressStatus,
  WORDPRESS_CONFIG_DIR,
  WORDPRESS_DEFAULTS,
  WORDPRESS_PACKAGES,
  type RunningWordpress,
  type WordpressOptions,
  type WordpressUser,
} from './wordpress';

export interface InfraCallOptions {
  /** Default: SERVICE_NAMES; ON_REQUEST_SERVICE_NAMES (redmine, wordpress) only when named. */
  services?: readonly (ServiceName | OnRequestServiceName)[];
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Where pid files, logs and data live; the checkout's `.infra/` unless a test passes its own. */
  paths?: InfraPaths;
}

/**
 * Brings up the requested services (all by default), in dependency order: Postgres first, since Unleash keeps
 * its state there. A service whose env var is set, or which already answers, is used as it is.
 */
export async function up(options: InfraCallOptions = {}): Promise<ServiceStatus[]> {
  const env = resolveEnvironment(options.env);
  const paths = options.paths ?? infraPaths(options.env);
  const log = options.log ?? ((line: string) => console.error(line));
  const wanted = new Set<ServiceName | OnRequestServiceName>(options.services ?? SERVICE_NAMES);
  if (wanted.has('unleash') || wanted.has('redmine')) wanted.add('postgres');

  const results: ServiceStatus[] = [];
  if (wanted.has('postgres')) results.push(await postgresUp(env, log));
  // Kafka (JVM) and Unleash start in parallel; both take several seconds.
  const parallel: Promise<ServiceStatus>[] = [];
  if (wanted.has('kafka')) parallel.push(kafkaUp(env, paths, log));
  if (wanted.has('unleash')) parallel.push(unleashUp(env, paths, log));
  if (wanted.has('prometheus')) parallel.push(prometheusUp(env, paths, log));
  if (wanted.has('redmine')) parallel.push(redmineUp(options.env, paths, log));
  if (wanted.has('wordpress')) parallel.push(wordpressUp(options.env, paths, log));
  const settled = await Promise.allSettled(parallel);
  const failures = settled.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
  for (const result of settled) if (result.status === 'fulfilled') results.push(result.value);
  if (failures.length) {
    // Leave nothing half-started behind this call.
    await down({ services: results.filter((status) => status.startedNow).map((status) => status.name), env: options.env, paths });
    throw failures[0]!.reason;
  }
  return results;
}

async function redmineUp(env: NodeJS.ProcessEnv | undefined, paths: InfraPaths, log: (line: string) => void): Promise<ServiceStatus> {
  const redmine = await startRedmine({ env, paths, log });
  const { installMs, setupMs, startMs } = redmine.timings;
  const took = [installMs && `installed in ${(installMs / 1000).toFixed(1)} s`, setupMs && `set up in ${(setupMs / 1000).toFixed(1)} s`, startMs && `answered in ${(startMs / 1000).toFixed(1)} s`];
  return {
    name: 'redmine',
    address: redmine.url,
    healthy: true,
    startedByUs: redmineStartedByInfra({ env, paths }),
    startedNow: redmine.startedNow,
    detail: [`project ${redmine.project.identifier}, database ${redmine.database}, X-Redmine-API-Key ${redmine.apiKey}`, ...took.filter(Boolean)].join('; '),
  };
}

/** WordPress needs the machine's MariaDB (never started by infra: `infra up mariadb` checks it), not Postgres. */
async function wordpressUp(env: NodeJS.ProcessEnv | undefined, paths: InfraPaths, log: (line: string) => void): Promise<ServiceStatus> {
  const wordpress = await startWordpress({ env, paths, log });
  const { installMs, setupMs, startMs } = wordpress.timings;
  const took = [installMs && `installed in ${(installMs / 1000).toFixed(1)} s`, setupMs && `set up in ${(setupMs / 1000).toFixed(1)} s`, startMs && `answered in ${(startMs / 1000).toFixed(1)} s`];
  return {
    name: 'wordpress',
    address: wordpress.url,
    healthy: true,
    startedByUs: wordpressStartedByInfra({ env, paths }),
    startedNow: wordpress.startedNow,
    detail: [`WordPress ${wordpress.version}, database ${wordpress.database}, users admin + ${wordpress.users.map((user) => user.login).join(', ')}`, ...took.filter(Boolean)].join('; '),
  };
}

/** Stops only what `up` started (those with a pid file). Returns the services it stopped. */
export async function down(options: InfraCallOptions = {}): Promise<(ServiceName | OnRequestServiceName)[]> {
  const paths = options.paths ?? infraPaths(options.env);
  const stopped: (ServiceName | OnRequestServiceName)[] = [];
  // Reverse start order: clients of Postgres go first.
  for (const name of [...(options.services ?? [...SERVICE_NAMES, ...ON_REQUEST_SERVICE_NAMES])].reverse()) {
    if (name === 'postgres') continue;
    if (await stopDaemon(paths, name)) stopped.push(name);
  }
  return stopped;
}

export async function status(options: Pick<InfraCallOptions, 'env' | 'paths'> = {}): Promise<ServiceStatus[]> {
  const env: InfraEnvironment = resolveEnvironment(options.env);
  const paths = options.paths ?? infraPaths(options.env);
  const mine = (name: ServiceName) => startedPid(paths, name) !== undefined;
  const [postgres, kafka, unleash, prometheus, redmine, wordpress] = await Promise.all([
    postgresStatus(env),
    kafkaHealthy(env.kafkaBrokers),
    unleashHealthy(env.unleashUrl),
    prometheusHealthy(env.prometheusUrl),
    redmineStatus({ env: options.env, paths }),
    wordpressStatus({ env: options.env, paths }),
  ]);
  // Redmine and WordPress are listed only when they run or infra started them: `up` does not start them by default.
  const onRequest = [redmine, wordpress].filter((service) => service.healthy || service.startedByUs);
  return [
    postgres,
    { name: 'kafka', address: env.kafkaBrokers.join(','), healthy: kafka, startedByUs: mine('kafka'), startedNow: false },
    { name: 'unleash', address: unleashBaseUrl(env.unleashUrl), healthy: unleash, startedByUs: mine('unleash'), startedNow: false },
    { name: 'prometheus', address: env.prometheusUrl, healthy: prometheus, startedByUs: mine('prometheus'), startedNow: false },
    ...onRequest,
  ];
}
