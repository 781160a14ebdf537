import { Counter, Gauge, type Registry } from 'prom-client';

export function createRolloutMetrics(registry: Registry) {
  const registers = [registry];
  return {
    step: new Gauge({ name: 'strangler_rollout_step', help: "Index of the route's current rollout step (0 = first); -1 when no rollout is progressing or paused", labelNames: ['route'], registers }),
    weight: new Gauge({ name: 'strangler_rollout_weight_percent', help: 'Rollout percentage the controller set for the route', labelNames: ['route'], registers }),
    analyses: new Counter({ name: 'strangler_rollout_analysis_total', help: 'Rollout analyses by result: pass, fail, inconclusive, error (Prometheus unreachable or refused)', labelNames: ['route', 'result'], registers }),
    rollbacks: new Counter({ name: 'strangler_rollout_rollbacks_total', help: 'Rollouts the controller rolled back to 0 % after failed analyses', labelNames: ['route'], registers }),
    leading: new Gauge({ name: 'strangler_rollout_controller_leading', help: '1 while this controller holds the route (advisory lock) and acts on it', labelNames: ['route'], registers }),
  };
}

export type RolloutMetrics = ReturnType<typeof createRolloutMetrics>;
