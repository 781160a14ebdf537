import fs from 'node:fs';
import type { Logger } from 'pino';
import { normalizedStrategyValue } from 'unleash-client/lib/strategy/util';
import YAML from 'yaml';
import { z } from 'zod';
import type { FlagContext, FlagProvider } from './provider';

const flagFileSchema = z.strictObject({
  flags: z.record(
    z.string(),
    z.union([
      z.boolean(),
      z.strictObject({ enabled: z.boolean().default(true), rollout: z.number().min(0).max(100).default(100) }),
    ]),
  ),
});

interface FileFlag {
  enabled: boolean;
  rollout: number;
}

export interface FileFlagProviderOptions {
  /** YAML or JSON: `flags: { my.flag: true, other.flag: { enabled: true, rollout: 30 } }`. */
  path: string;
  pollIntervalMs: number;
}

/**
 * Flags from a local file, for offline use. Rollouts bucket exactly as Unleash's flexibleRollout with stickiness
 * `default` and groupId = flag name, so moving from the file to Unleash keeps every user on the same side.
 * The file is re-read on change; a broken file keeps the previous flags.
 */
export class FileFlagProvider implements FlagProvider {
  private flags: Map<string, FileFlag> | undefined;
  private watching = false;
  private readonly logger: Logger;
  private readonly onChange = () => this.load();

  constructor(
    private readonly options: FileFlagProviderOptions,
    deps: { logger: Logger },
  ) {
    this.logger = deps.logger.child({ component: 'file-flags' });
  }

  async start(): Promise<void> {
    if (this.watching) return;
    this.load();
    fs.watchFile(this.options.path, { interval: this.options.pollIntervalMs, persistent: false }, this.onChange);
    this.watching = true;
  }

  async stop(): Promise<void> {
    if (!this.watching) return;
    fs.unwatchFile(this.options.path, this.onChange);
    this.watching = false;
  }

  private load(): void {
    try {
      const parsed = flagFileSchema.parse(YAML.parse(fs.readFileSync(this.options.path, 'utf8')));
      const flags = new Map<string, FileFlag>();
      for (const [name, value] of Object.entries(parsed.flags)) {
        flags.set(name, typeof value === 'boolean' ? { enabled: value, rollout: 100 } : value);
      }
      this.flags = flags;
      this.logger.info({ flags: flags.size, path: this.options.path }, 'flags loaded');
    } catch (error) {
      this.logger.warn({ err: error, path: this.options.path }, 'cannot load the flag file; keeping the previous flags');
    }
  }

  isReady(): boolean {
    return this.flags !== undefined;
  }

  isEnabled(flag: string, context: FlagContext): boolean {
    const definition = this.flags?.get(flag);
    if (!definition || !definition.enabled || definition.rollout <= 0) return false;
    if (definition.rollout >= 100) return true;
    const stickiness = context.userId || context.sessionId || String(Math.random());
    return normalizedStrategyValue(stickiness, flag) <= definition.rollout;
  }

  rolloutPercent(flag: string): number | undefined {
    const definition = this.flags?.get(flag);
    if (!definition) return undefined;
    return definition.enabled ? definition.rollout : 0;
  }
}
