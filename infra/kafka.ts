import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { InfraError } from './errors';
import { ensureDebianPackage } from './packages';
import { DEFAULTS, ROOT_DIR, infraPaths, type InfraEnvironment, type InfraPaths } from './options';
import { commandExists, isAlive, logFile, retrying, sleep, startDaemon, startedPid, stopDaemon } from './process';
import type { ServiceStatus } from './types';

const POM = path.join(ROOT_DIR, 'infra', 'kafka', 'pom.xml');
const LOG4J_CONFIG = path.join(ROOT_DIR, 'infra', 'kafka', 'log4j2.properties');

export function kafkaHealthy(brokers: string[], timeoutMs = 3000): Promise<boolean> {
  return kafkaCheck(brokers, timeoutMs).then(() => true, () => false);
}

/** Resolves when a broker answers a metadata request; otherwise throws the client's error. */
export async function kafkaCheck(brokers: string[], timeoutMs = 3000): Promise<void> {
  const admin = new Kafka({
    clientId: 'strangler-infra-probe',
    brokers,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) throw new Error('the cluster reports no broker');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Downloads the broker jars from Maven Central once; they are cached outside the repository. */
export function ensureKafkaJars(paths: InfraPaths, log: (line: string) => void): void {
  const hasBroker = fs.existsSync(paths.kafkaJarsDir) &&
    fs.readdirSync(paths.kafkaJarsDir).some((file) => file.startsWith(`kafka_2.13-${DEFAULTS.kafkaVersion}`));
  if (hasBroker) return;
  const maven = ensureDebianPackage({ command: 'mvn', pkg: 'maven', purpose: 'fetching the Kafka broker jars from Maven Central' }, log);
  if (!maven.available) throw new InfraError('SFG_INFRA_MISSING_TOOL', `kafka: ${maven.reason}, or set KAFKA_BROKERS`);
  log(`kafka: fetching Apache Kafka ${DEFAULTS.kafkaVersion} jars from Maven Central into ${paths.kafkaJarsDir}`);
  const result = spawnSync(
    'mvn',
    ['-q', '-B', '-Dstyle.color=never', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${paths.kafkaJarsDir}`, '-DincludeScope=runtime'],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (result.status !== 0) {
    throw new InfraError('SFG_INFRA_FETCH_FAILED', `kafka: mvn dependency:copy-dependencies failed with exit ${result.status}`);
  }
}

function serverProperties(dataDir: string, brokerPort: number, controllerPort: number = DEFAULTS.kafkaControllerPort): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=3',
    'auto.create.topics.enable=true',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'log.retention.hours=24',
    'log.segment.bytes=67108864',
    'delete.topic.enable=true',
    '',
  ].join('\n');
}

function java(args: string[], paths: InfraPaths): string[] {
  return [
    `-Xms${DEFAULTS.kafkaHeapMb}m`,
    `-Xmx${DEFAULTS.kafkaHeapMb}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
    `-Dkafka.logs.dir=${paths.logsDir}`,
    '-cp',
    `${paths.kafkaJarsDir}/*`,
    ...args,
  ];
}

function formatStorage(configPath: string, paths: InfraPaths): void {
  const clusterId = Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
  const format = spawnSync(
    'java',
    // `=`: a base64url id may start with '-', which the argument parser would take for an option.
    java(['kafka.tools.StorageTool', 'format', '--standalone', '-g', `--cluster-id=${clusterId}`, '-c', configPath], paths),
    { encoding: 'utf8' },
  );
  if (format.status !== 0) {
    throw new InfraError('SFG_INFRA_START_FAILED', `kafka: storage format failed: ${format.stderr || format.stdout}`);
  }
}

export interface PrivateKafkaBroker {
  brokers: string[];
  pid: number;
  /** SIGTERM (controlled shutdown), SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once. */
  kill(): Promise<void>;
}

/**
 * Starts an extra single-node KRaft broker on the given ports with its own data directory, for tests that must stop
 * or kill a broker without touching the shared one. Calling it again with the same dataDir restarts the same broker
 * (same cluster id, same topics). Uses the cached jars and the usual server properties.
 */
export async function startKafkaBroker(options: {
  name: string;
  brokerPort: number;
  controllerPort: number;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): Promise<PrivateKafkaBroker> {
  const paths = infraPaths(options.env);
  ensureKafkaJars(paths, () => undefined);
  fs.mkdirSync(options.dataDir, { recursive: true });
  const configPath = path.join(options.dataDir, 'server.properties');
  const logDir = path.join(options.dataDir, 'log');
  fs.writeFileSync(configPath, serverProperties(logDir, options.brokerPort, options.controllerPort));
  if (!fs.existsSync(path.join(logDir, 'meta.properties'))) formatStorage(configPath, paths);
  const brokers = [`127.0.0.1:${options.brokerPort}`];
  const pid = startDaemon(paths, { name: options.name, command: 'java', args: java(['kafka.Kafka', configPath], paths) });
  await retrying(`kafka broker ${options.name}`, () => kafkaCheck(brokers, 1500), {
    address: brokers.join(','),
    timeoutMs: options.timeoutMs ?? 90_000,
    intervalMs: 300,
    maxIntervalMs: 1000,
    logPath: logFile(paths, options.name),
    pid,
  });
  const waitExit = async () => {
    while (isAlive(pid)) await sleep(50);
  };
  return {
    brokers,
    pid,
    async stop(graceMs = 20_000) {
      await stopDaemon(paths, options.name, graceMs);
      await waitExit();
    },
    async kill() {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await waitExit();
      await stopDaemon(paths, options.name, 0);
    },
  };
}

export async function kafkaUp(env: InfraEnvironment, paths: InfraPaths, log: (line: string) => void): Promise<ServiceStatus> {
  const address = env.kafkaBrokers.join(',');
  if (env.external.kafka || (await kafkaHealthy(env.kafkaBrokers))) {
    await retrying('kafka', () => kafkaCheck(env.kafkaBrokers, 5000), { address, timeoutMs: 30_000, intervalMs: 500 });
    return { name: 'kafka', address, healthy: true, startedByUs: startedPid(paths, 'kafka') !== undefined, startedNow: false };
  }
  if (!commandExists('java')) {
    throw new InfraError('SFG_INFRA_MISSING_TOOL', 'java not found: install JDK 17+ or set KAFKA_BROKERS');
  }
  ensureKafkaJars(paths, log);

  const brokerPort = Number(env.kafkaBrokers[0]?.split(':')[1] ?? 9092);
  const kafkaDir = paths.kafkaDataDir;
  const configPath = path.join(paths.stateDir, 'kafka', 'server.properties');
  fs.mkdirSync(path.dirname(configPath), { recursive: true });
  fs.writeFileSync(configPath, serverProperties(kafkaDir, brokerPort, env.kafkaControllerPort));

  if (!fs.existsSync(path.join(kafkaDir, 'meta.properties'))) {
    log(`kafka: formatting KRaft storage in ${kafkaDir}`);
    formatStorage(configPath, paths);
  }

  log(`kafka: starting broker on ${address}`);
  const pid = startDaemon(paths, { name: 'kafka', command: 'java', args: java(['kafka.Kafka', configPath], paths) });
  await retrying('kafka broker', () => kafkaCheck(env.kafkaBrokers, 1500), {
    address,
    timeoutMs: 120_000,
    intervalMs: 300,
    maxIntervalMs: 1000,
    logPath: logFile(paths, 'kafka'),
    pid,
  });
  return { name: 'kafka', address, healthy: true, startedByUs: true, startedNow: true };
}
