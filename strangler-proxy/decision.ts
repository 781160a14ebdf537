import type { ClusterRuntime } from './cluster';
import type { FlagContext, FlagProvider } from './flags/provider';
import type { FallbackReason, Target } from './metrics';
import { LEGACY } from './options';
import type { CompiledRoute } from './route-table';

export type DecisionReason = 'unmatched' | 'pinned-to-legacy' | 'no-flag' | 'flag-on' | 'flag-off' | 'flags-not-ready' | 'circuit-open';

export const DECISION_EXPLANATIONS: Record<DecisionReason, string> = {
  unmatched: 'no route matches: the legacy cluster answers',
  'pinned-to-legacy': 'the route sends everything to legacy',
  'no-flag': 'the route has no flag: its cluster always answers',
  'flag-on': "the route's flag is on for this context",
  'flag-off': "the route's flag is off for this context",
  'flags-not-ready': 'flags are not known yet (fail safe): legacy answers',
  'circuit-open': "the cluster's circuit breaker is open: legacy answers",
};

export interface Decision {
  target: Target;
  cluster: ClusterRuntime;
  reason: DecisionReason;
  /** Set when legacy answers a request that was meant for the extracted side. */
  fallback: FallbackReason | undefined;
}

/**
 * Which side answers. Used by the request path (`admit` = true: a half-open breaker lets this request probe) and by
 * /explain (`admit` = false: no side effects).
 */
export function decide(route: CompiledRoute, legacy: ClusterRuntime, flags: FlagProvider, context: FlagContext, admit: boolean): Decision {
  if (route.config === undefined) return { target: 'legacy', cluster: legacy, reason: 'unmatched', fallback: undefined };
  if (route.cluster.name === LEGACY) return { target: 'legacy', cluster: legacy, reason: 'pinned-to-legacy', fallback: undefined };
  let reason: DecisionReason = 'no-flag';
  if (route.flag !== undefined) {
    if (!flags.isReady()) return { target: 'legacy', cluster: legacy, reason: 'flags-not-ready', fallback: 'flags_not_ready' };
    if (!flags.isEnabled(route.flag, context)) return { target: 'legacy', cluster: legacy, reason: 'flag-off', fallback: undefined };
    reason = 'flag-on';
  }
  const breaker = route.cluster.breaker;
  if (!(admit ? breaker.tryAcquire() : breaker.wouldAdmit())) return { target: 'legacy', cluster: legacy, reason: 'circuit-open', fallback: 'circuit_open' };
  return { target: 'extracted', cluster: route.cluster, reason, fallback: undefined };
}
