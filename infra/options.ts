import os from 'node:os';
import path from 'node:path';

export const ROOT_DIR = path.resolve(__dirname, '..');

/** Where the local services resolve to, from the environment or the documented defaults. */
export interface InfraEnvironment {
  databaseUrl: string;
  kafkaBrokers: string[];
  /** The KRaft controller port of the broker infra starts. */
  kafkaControllerPort: number;
  unleashUrl: string;
  unleashAdminToken: string;
  unleashClientToken: string;
  prometheusUrl: string;
  /** Which services the user pointed at through env vars: infra starts none of those. */
  external: Record<ServiceName, boolean>;
}

export type ServiceName = 'postgres' | 'kafka' | 'unleash' | 'prometheus';
export const SERVICE_NAMES: readonly ServiceName[] = ['postgres', 'kafka', 'unleash', 'prometheus'];
/** Services infra starts only when they are named (`infra up redmine`, `infra up wordpress`, or a test that needs one): never by default. */
export type OnRequestServiceName = 'redmine' | 'wordpress';
export const ON_REQUEST_SERVICE_NAMES: readonly OnRequestServiceName[] = ['redmine', 'wordpress'];

export const DEFAULTS = {
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
  kafkaBrokers: '127.0.0.1:9092',
  kafkaControllerPort: 9093,
  unleashUrl: 'http://127.0.0.1:4242/api',
  unleashAdminToken: '*:*.strangler-fig-admin-token',
  unleashClientToken: '*:development.strangler-fig-client-token',
  unleashDatabase: 'strangler_unleash',
  prometheusUrl: 'http://127.0.0.1:9090',
  kafkaVersion: '4.1.1',
  kafkaHeapMb: 512,
} as const;

/** Databases the demo uses; tests create their own. */
export const PROJECT_DATABASES = [
  DEFAULTS.unleashDatabase,
  'strangler_legacy',
  'strangler_users',
  'strangler_catalog',
  'strangler_payments',
  'strangler_orders',
] as const;

export function resolveEnvironment(env: NodeJS.ProcessEnv = process.env): InfraEnvironment {
  return {
    databaseUrl: env.DATABASE_URL || DEFAULTS.databaseUrl,
    kafkaBrokers: (env.KAFKA_BROKERS || DEFAULTS.kafkaBrokers).split(',').map((broker) => broker.trim()).filter(Boolean),
    kafkaControllerPort: DEFAULTS.kafkaControllerPort,
    unleashUrl: env.UNLEASH_URL || DEFAULTS.unleashUrl,
    unleashAdminToken: env.UNLEASH_ADMIN_TOKEN || DEFAULTS.unleashAdminToken,
    unleashClientToken: env.UNLEASH_CLIENT_TOKEN || DEFAULTS.unleashClientToken,
    prometheusUrl: env.PROMETHEUS_URL || DEFAULTS.prometheusUrl,
    external: {
      postgres: Boolean(env.DATABASE_URL),
      kafka: Boolean(env.KAFKA_BROKERS),
      unleash: Boolean(env.UNLEASH_URL),
      prometheus: Boolean(env.PROMETHEUS_URL),
    },
  };
}

export interface InfraPaths {
  stateDir: string;
  logsDir: string;
  pidsDir: string;
  dataDir: string;
  kafkaJarsDir: string;
  /**
   * The broker's data, machine-wide beside the jars: the machine has one broker on its port, whichever checkout
   * starts it, so a second checkout's `infra up` after the first's `infra down` restarts the same topics and offsets
   * rather than an empty broker behind relays that already confirmed their events.
   */
  kafkaDataDir: string;
}

export function infraPaths(env: NodeJS.ProcessEnv = process.env): InfraPaths {
  // prometheus.yml finds its file_sd targets relative to itself, so the state dir is fixed.
  const stateDir = path.join(ROOT_DIR, '.infra');
  const cacheRoot = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return {
    stateDir,
    logsDir: path.join(stateDir, 'logs'),
    pidsDir: path.join(stateDir, 'pids'),
    dataDir: path.join(stateDir, 'data'),
    kafkaJarsDir: path.join(cacheRoot, 'strangler-fig', 'kafka', DEFAULTS.kafkaVersion, 'libs'),
    kafkaDataDir: path.join(cacheRoot, 'strangler-fig', 'kafka', DEFAULTS.kafkaVersion, 'data'),
  };
}

/** Replaces the database name of a postgres URL. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
