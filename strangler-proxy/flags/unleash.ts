import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import type { Logger } from 'pino';
import { Unleash, UnleashEvents } from 'unleash-client';
import type { Context } from 'unleash-client/lib/context';
import { FlagProviderError } from '../errors';
import { rolloutFromStrategies, type FlagContext, type FlagProvider } from './provider';

function ignoreLateError(): void {}

export interface UnleashFlagProviderOptions {
  url: string;
  clientToken: string;
  appName: string;
  refreshIntervalMs: number;
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
    const client = new Unleash({
      url: this.options.url,
      appName: this.options.appName,
      customHeaders: { Authorization: this.options.clientToken },
      refreshInterval: this.options.refreshIntervalMs,
      disableMetrics: !(this.options.sendMetrics ?? true),
      backupPath: this.options.backupDir,
      bootstrap: this.options.bootstrapFile ? { filePath: this.options.bootstrapFile } : undefined,
      bootstrapOverride: false,
      disableAutoStart: true,
      skipInstanceCountWarning: true,
    });
    client.on(UnleashEvents.Ready, () => {
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
    client.on(UnleashEvents.Changed, markReachable);
    client.on(UnleashEvents.Unchanged, markReachable);
    this.client = client;
    // Never block startup on the server: until something answers, every flag is off.
    client.start().catch((error: unknown) => this.logger.warn({ err: error }, 'unleash-client failed to start'));
  }

  async stop(): Promise<void> {
    const client = this.client;
    if (client) {
      client.destroy();
      // destroy() drops the repository's listeners while a fetch may still be in flight; its late error event would
      // otherwise be an unhandled 'error' and crash the process.
      (client as unknown as { repository: EventEmitter }).repository.on(UnleashEvents.Error, ignoreLateError);
    }
    this.client = undefined;
    this.ready = false;
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Whether the last fetch reached the server (false during an outage, while last known flags are used). */
  isReachable(): boolean {
    return this.reachable;
  }

  isEnabled(flag: string, context: FlagContext): boolean {
    return this.ready && this.client !== undefined && this.client.isEnabled(flag, context as Context);
  }

  rolloutPercent(flag: string): number | undefined {
    const definition = this.ready ? this.client?.getFeatureToggleDefinition(flag) : undefined;
    return definition ? rolloutFromStrategies(definition.enabled, definition.strategies) : undefined;
  }
}
