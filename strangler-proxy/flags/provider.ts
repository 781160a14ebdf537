/** What a flag is evaluated against. `userId` and `sessionId` only bucket users; nothing is verified. */
export interface FlagContext {
  userId?: string;
  sessionId?: string;
  remoteAddress?: string;
}

/** Decides per request whether a route's flag is on. Implementations keep flags in memory: isEnabled is hot. */
export interface FlagProvider {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** False until flags are known (from the server, a backup or a bootstrap); the proxy then routes to legacy. */
  isReady(): boolean;
  isEnabled(flag: string, context: FlagContext): boolean;
  /** The flag's rollout percentage (0 when off), or undefined when unknown. */
  rolloutPercent?(flag: string): number | undefined;
}

interface StrategyLike {
  name: string;
  parameters?: Record<string, unknown>;
  constraints?: unknown[];
}

/**
 * The share of users a flag lets through, as far as its strategies say: 100 for an unconstrained `default`
 * strategy, the `rollout` of a flexibleRollout, the percentage of the legacy gradual rollouts; the largest wins.
 */
export function rolloutFromStrategies(enabled: boolean, strategies: StrategyLike[] | undefined): number {
  if (!enabled) return 0;
  let percent = 0;
  for (const strategy of strategies ?? [{ name: 'default' }]) {
    const parameters = strategy.parameters ?? {};
    const value =
      strategy.name === 'default'
        ? 100
        : Number(parameters.rollout ?? parameters.percentage ?? parameters.groupPercentage ?? 0);
    if (Number.isFinite(value)) percent = Math.max(percent, value);
  }
  return percent;
}
