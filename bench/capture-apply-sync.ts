/**
 * The sync of bench/capture-apply.ts in a process of its own, as `strangler sync` runs beside `strangler relay` and
 * the monolith: the capture relay and the writers do not share its event loop. Started by capture-apply.ts
 * (child_process.fork, the configuration in BENCH_SYNC_CONFIG); answers its messages:
 * - `start`: starts the sync (its CPU time counts from here), answers `started`;
 * - `handled`: answers the captured changes handled so far (every outcome but retried) and the CPU time since start;
 * - `stop`: stops the sync (and writes BENCH_PROFILE's CPU profile, when set), answers `stopped`, and exits.
 */
import fs from 'node:fs';
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { isMysqlUrl } from '../outbox';
import { loadMappingFile, MySqlDatabase, SyncConsumer } from '../sync';

export interface SyncProcessConfig {
  mappingFile: string;
  legacyUrl: string;
  serviceUrl: string;
  legacyConnections: number;
  serviceConnections: number;
  groupId: string;
  topicPrefix: string;
  brokers: string[];
  batch: number;
  partitions: number;
  /** Write a V8 CPU profile of the sync from start to stop to this file. */
  profile?: string;
}

export type SyncRequest = { op: 'start' | 'stop' } | { op: 'handled'; id: number };
export type SyncAnswer = { op: 'started' | 'stopped' } | { op: 'handled'; id: number; handled: number; cpuMicros: number } | { op: 'failed'; message: string };

const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));

async function startProfile(): Promise<() => Promise<object>> {
  const inspector = await import('node:inspector');
  const session = new inspector.Session();
  session.connect();
  const post = (method: string) => new Promise<unknown>((resolve, reject) => session.post(method, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return async () => {
    const { profile } = (await post('Profiler.stop')) as { profile: object };
    session.disconnect();
    return profile;
  };
}

function main(): void {
  const config = JSON.parse(process.env.BENCH_SYNC_CONFIG!) as SyncProcessConfig;
  // A mysql:// legacy (bench:capture --source mysql) is read through with MySqlDatabase, as `strangler sync` does.
  const legacy = isMysqlUrl(config.legacyUrl)
    ? new MySqlDatabase(config.legacyUrl, { connectionLimit: config.legacyConnections })
    : new pg.Pool({ connectionString: config.legacyUrl, max: config.legacyConnections });
  const service = new pg.Pool({ connectionString: config.serviceUrl, max: config.serviceConnections });
  // The bench's forced drop at the end terminates sockets the pools have let go of but not yet closed.
  if (legacy instanceof pg.Pool) legacy.on('error', () => undefined);
  service.on('error', () => undefined);
  const registry = new Registry();
  const sync = new SyncConsumer(
    {
      mapping: loadMappingFile(config.mappingFile),
      into: 'service',
      pools: { legacy, service },
      groupId: config.groupId,
      topicPrefix: config.topicPrefix,
      kafka: { brokers: config.brokers },
      maxBatchEvents: config.batch,
      partitionsConsumedConcurrently: config.partitions,
      migrate: true,
    },
    { logger, registry },
  );
  let cpu = process.cpuUsage();
  let stopProfile: (() => Promise<object>) | undefined;
  const answer = (message: SyncAnswer) => process.send!(message);
  const handled = async (): Promise<number> => {
    const metric = registry.getSingleMetric('strangler_sync_events_total');
    if (!metric) return 0;
    return (await metric.get()).values.filter((value) => value.labels.outcome !== 'retried').reduce((sum, value) => sum + value.value, 0);
  };
  process.on('message', (request: SyncRequest) => {
    void (async () => {
      switch (request.op) {
        case 'start':
          cpu = process.cpuUsage();
          if (config.profile) stopProfile = await startProfile();
          await sync.start();
          answer({ op: 'started' });
          return;
        case 'handled': {
          const count = await handled();
          const used = process.cpuUsage(cpu);
          answer({ op: 'handled', id: request.id, handled: count, cpuMicros: used.user + used.system });
          return;
        }
        case 'stop':
          if (stopProfile) fs.writeFileSync(config.profile!, JSON.stringify(await stopProfile()));
          await sync.stop();
          await legacy.end();
          await service.end();
          answer({ op: 'stopped' });
          process.disconnect();
          return;
      }
    })().catch((error: unknown) => {
      answer({ op: 'failed', message: String((error as Error)?.stack ?? error) });
    });
  });
}

main();
