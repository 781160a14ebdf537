import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import type { Logger } from 'pino';
import { Unleash, UnleashEvents } from 'unleash-client';
import type { Context } from 'unleash-client/lib/context';
import type { ClientFeaturesResponse, FeatureInterface } from 'unleash-client/lib/feature';
import { normalizedStrategyValue } from 'unleash-client/lib/strategy/util';
import { FlagProviderError } from '../errors';
import { AtomicBackupStorage } from './backup-storage';
import { rolloutFromStrategies, type FlagContext, type FlagProvider } from './provider';

function ignoreLateError(): void {}

/**
 * unleash-client 6 leaves two loose ends when destroy() runs while a fetch is in flight: the fetch's error is
 * emitted on a repository whose listeners are gone (an unhandled 'error' that crashes the process), and its
 * completion schedules the next poll again (a timer that keeps the process alive). Both are closed here.
 */
function destroyQuietly(client: Unleash): void {
  client.destroy();
  const repository = (client as unknown as { repository: EventEmitter & { fetcher?: { pollingFetcher?: { timedFetch(interval: number): void } } } }).repository;
  repository.on(UnleashEvents.Error, ignoreLateError);
  const polling = repository.fetcher?.pollingFetcher;
  if (polling) polling.timedFetch = () => undefined;
}

/**
 * A flag precompiled for the per-request path. Most migration flags are "on/off" or flexibleRollouts with
 * stickiness `default` and no constraints: those are decided here exactly as unleash-client decides them (same
 * murmur3 bucketing), without its per-call context copy and strategy dispatch. Anything else (constraints,
 * segments, other strategies or stickiness, no groupId, dependencies, impression data) goes through unleash-client.
 */
type CompiledFlag = { kind: 'off' } | { kind: 'on' } | { kind: 'rollouts'; rollouts: Array<{ percent: number; groupId: string }> } | { kind: 'general' };

const OFF: CompiledFlag = { kind: 'off' };
const ON: CompiledFlag = { kind: 'on' };
const GENERAL: CompiledFlag = { kind: 'general' };

export function compileFlag(feature: FeatureInterface): CompiledFlag {
  if (feature.dependencies?.length || feature.impressionData || !Array.isArray(feature.strategies ?? [])) return GENERAL;
  if (!feature.enabled) return OFF;
  const strategies = feature.strategies ?? [];
  if (strategies.length === 0) return ON;
  const rollouts: Array<{ percent: number; groupId: string }> = [];
  for (const strategy of strategies) {
    const { constraints, segments } = strategy as { constraints?: unknown[]; segments?: unknown[] };
    if (constraints?.length || segments?.length) return GENERAL;
    if (strategy.name === 'default') return ON;
    const parameters = (strategy.parameters ?? {}) as Record<string, string | undefined>;
    if (strategy.name !== 'flexibleRollout' || (parameters.stickiness || 'default') !== 'default' || !parameters.groupId) return GENERAL;
    rollouts.push({ percent: Number(parameters.rollout), groupId: parameters.groupId });
  }
  return { kind: 'rollouts', rollouts };
}

export interface UnleashFlagProviderOptions {
  url: string;
  clientToken: string;
  appName: string;
  refreshIntervalMs: number;
  /** Limit of one fetch from the server, also the longest back-off between its retries (default 10000). */
  requestTimeoutMs?: number;
  /** Unleash client-features JSON used when neither the server nor the backup has answered yet. */
  bootstrapFile?: string;
  /** Persistent directory for the last known flags; survives restarts (never a temp dir). */
  backupDir: string;
  sendMetrics?: boolean;
}

/**
 * Flags from an Unleash server through unleash-client. Fails safe: until flags are known (server, backup, or
 * bootstrap, in that order of preference; `bootstrapOverride: false` so a backup is never replaced by an older
 * bootstrap) every flag is off, so nothing moves to the new side on a cold start. During an outage the last known
 * flags stay in force.
 */
export class UnleashFlagProvider implements FlagProvider {
  private client: Unleash | undefined;
  private backup: AtomicBackupStorage<ClientFeaturesResponse> | undefined;
  private compiled = new Map<string, CompiledFlag>();
  private ready = false;
  private reachable = true;
  private readonly logger: Logger;

  constructor(
    private readonly options: UnleashFlagProviderOptions,
    deps: { logger: Logger },
  ) {
    this.logger = deps.logger.child({ component: 'unleash-flags' });
  }

  async start(): Promise<void> {
    if (this.client) return;
    try {
      fs.mkdirSync(this.options.backupDir, { recursive: true });
    } catch (error) {
      throw new FlagProviderError(`cannot create the Unleash backup directory ${this.options.backupDir}`, error);
    }
    // unleash-client reads the backup and the bootstrap in parallel and keeps whichever finishes first, so
    // `bootstrapOverride: false` alone can still let an older bootstrap beat a newer backup. Decide here instead.
    const storage = new AtomicBackupStorage<ClientFeaturesResponse>(this.options.backupDir);
    const backup = await storage.get(this.options.appName).catch((error: unknown) => {
      this.logger.warn({ err: error, file: storage.fileFor(this.options.appName) }, 'unreadable Unleash backup; ignoring it');
      return undefined;
    });
    const hasBackup = (backup?.features?.length ?? 0) > 0;
    const useBootstrap = this.options.bootstrapFile !== undefined && !hasBackup;
    const client = new Unleash({
      url: this.options.url,
      appName: this.options.appName,
      customHeaders: { Authorization: this.options.clientToken },
      refreshInterval: this.options.refreshIntervalMs,
      timeout: this.options.requestTimeoutMs ?? 10_000,
      disableMetrics: !(this.options.sendMetrics ?? true),
      storageProvider: storage,
      bootstrap: useBootstrap ? { filePath: this.options.bootstrapFile! } : undefined,
      bootstrapOverride: false,
      disableAutoStart: true,
      skipInstanceCountWarning: true,
    });
    client.on(UnleashEvents.Ready, () => {
      this.compileFlags(client);
      this.ready = true;
      this.logger.info({ synchronized: client.isSynchronized() }, 'flags ready');
    });
    client.on(UnleashEvents.Error, (error: Error) => {
      if (this.reachable) this.logger.warn({ err: error }, 'Unleash unreachable; keeping the last known flags');
      this.reachable = false;
    });
    client.on(UnleashEvents.Warn, (message: unknown) => this.logger.debug({ message }, 'unleash-client warning'));
    const markReachable = () => {
      if (!this.reachable) this.logger.info('Unleash reachable again');
      this.reachable = true;
    };
    client.on(UnleashEvents.Changed, () => {
      this.compileFlags(client);
      markReachable();
    });
    client.on(UnleashEvents.Unchanged, markReachable);
    this.client = client;
    this.backup = storage;
    // Never block startup on the server: until something answers, every flag is off.
    client.start().catch((error: unknown) => this.logger.warn({ err: error }, 'unleash-client failed to start'));
  }

  async stop(): Promise<void> {
    const client = this.client;
    if (client) destroyQuietly(client);
    this.client = undefined;
    await this.backup?.flush();
    this.backup = undefined;
    this.ready = false;
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Whether the last fetch reached the server (false during an outage, while last known flags are used). */
  isReachable(): boolean {
    return this.reachable;
  }

  private compileFlags(client: Unleash): void {
    this.compiled = new Map(client.getFeatureToggleDefinitions().map((feature) => [feature.name, compileFlag(feature)]));
  }

  isEnabled(flag: string, context: FlagContext): boolean {
    const client = this.client;
    if (!this.ready || client === undefined) return false;
    const compiled = this.compiled.get(flag) ?? OFF;
    const id = context.userId || context.sessionId;
    if (compiled.kind === 'general' || (compiled.kind === 'rollouts' && !id)) return client.isEnabled(flag, context as Context);
    let enabled = compiled.kind === 'on';
    if (compiled.kind === 'rollouts') {
      for (const rollout of compiled.rollouts) {
        if (rollout.percent > 0 && normalizedStrategyValue(id!, rollout.groupId) <= rollout.percent) {
          enabled = true;
          break;
        }
      }
    }
    if (this.options.sendMetrics ?? true) client.count(flag, enabled);
    return enabled;
  }

  rolloutPercent(flag: string): number | undefined {
    const definition = this.ready ? this.client?.getFeatureToggleDefinition(flag) : undefined;
    return definition ? rolloutFromStrategies(definition.enabled, definition.strategies) : undefined;
  }
}
