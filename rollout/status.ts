import { ProxyReplicas, type InventoryEntry, type ProxyAdminClient, type ReplicaState } from '../strangler-proxy';
import type { RolloutPlan } from './options';
import type { QuerySamples, Sample } from './prometheus';
import type { RolloutStore } from './store';

export interface StatusReport {
  /** When the Prometheus figures were evaluated (unix seconds): the same query at this time gives the same number. */
  at: number;
  flagsReady: boolean;
  reloadFailed: boolean | undefined;
  prometheusError?: string;
  routes: Array<{
    route: string;
    rolloutPercent: number | null;
    rollout?: { status: string; step: string; reason: string | null };
    lastMinute: { legacy: number; extracted: number; extractedPercent: number };
    errorRatio: { legacy?: number; extracted?: number };
    p99Seconds: { legacy?: number; extracted?: number };
    shadowMismatchesLastHour?: number;
    circuit: string;
  }>;
  syncLagSeconds: Record<string, number>;
  driftRows: Record<string, number>;
  /** What legacy still answers since the proxy started, most requested first (GET /inventory). */
  legacyEndpoints: InventoryEntry[];
  /** Each proxy replica's flags, configuration and last reload (one entry for a single proxy). */
  replicas: ReplicaState[];
}

const byLabels = (samples: Sample[], ...names: string[]) => new Map(samples.map((sample) => [names.map((name) => sample.labels[name] ?? '').join('|'), sample.value]));

export interface StatusSources {
  /** One proxy, or every replica (their route tables summed). */
  admin: ProxyAdminClient | ProxyReplicas;
  query: QuerySamples;
  /** Extra label matchers on every Prometheus query, e.g. `job="strangler-proxy"`. */
  selector?: string;
  /** With both: each route's rollout step and status. */
  plans?: RolloutPlan[];
  store?: RolloutStore;
}

/**
 * The whole migration at one moment: route table and split from the proxy admin API, the rest from Prometheus
 * (left out, with `prometheusError`, when it cannot be reached), rollouts from the store.
 */
export async function collectStatus(sources: StatusSources): Promise<StatusReport> {
  const { admin, query } = sources;
  const proxies = admin instanceof ProxyReplicas ? admin : new ProxyReplicas([admin]);
  const [{ view, replicas }, inventory] = await Promise.all([proxies.routes(), proxies.inventory()]);
  // Two seconds back: every scrape that started before `at` has been stored by then, so asking again at `at` later
  // gives the same answer.
  const at = Math.floor(Date.now() / 1000) - 2;
  const selector = sources.selector ? `,${sources.selector}` : '';
  const inner = sources.selector ?? '';
  const expressions = {
    requests: `sum by (route, target) (rate(strangler_proxy_requests_total{${inner}}[5m]))`,
    errors: `sum by (route, target) (rate(strangler_proxy_requests_total{code=~"5.."${selector}}[5m]))`,
    p99: `histogram_quantile(0.99, sum by (route, target, le) (rate(strangler_proxy_request_duration_seconds_bucket{${inner}}[5m])))`,
    fallbacks: `sum by (route) (rate(strangler_proxy_fallbacks_total{${inner}}[5m]))`,
    mismatches: `sum by (route) (increase(strangler_proxy_shadow_comparisons_total{result="mismatch"${selector}}[1h]))`,
    lag: 'max by (relay) (strangler_outbox_lag_seconds)',
    drift: 'sum by (aggregatetype) (strangler_sync_drift_rows)',
    reloadFailed: `max(strangler_proxy_config_reload_failed{${inner}})`,
  };
  let figures: Record<keyof typeof expressions, Sample[]> | undefined;
  let prometheusError: string | undefined;
  try {
    const names = Object.keys(expressions) as Array<keyof typeof expressions>;
    const answers = await Promise.all(names.map((name) => query(expressions[name], at)));
    figures = Object.fromEntries(names.map((name, index) => [name, answers[index]!])) as Record<keyof typeof expressions, Sample[]>;
  } catch (error) {
    prometheusError = (error as Error).message;
  }
  const rollouts = sources.store && new Map((await sources.store.list()).map((state) => [state.route, state]));
  const requests = figures && byLabels(figures.requests, 'route', 'target');
  const errors = figures && byLabels(figures.errors, 'route', 'target');
  const p99 = figures && byLabels(figures.p99, 'route', 'target');
  const mismatches = figures && byLabels(figures.mismatches, 'route');
  const fallbacks = figures && byLabels(figures.fallbacks, 'route');
  // As the rollout analysis counts it: a request of the new side that fell back to legacy failed there.
  const ratio = (route: string, target: string) => {
    const fellBack = target === 'extracted' ? (fallbacks?.get(route) ?? 0) : 0;
    const total = (requests?.get(`${route}|${target}`) ?? 0) + fellBack;
    return total ? ((errors?.get(`${route}|${target}`) ?? 0) + fellBack) / total : undefined;
  };
  return {
    at,
    flagsReady: view.flagsReady,
    reloadFailed: figures?.reloadFailed[0] === undefined ? undefined : figures.reloadFailed[0].value > 0,
    ...(prometheusError ? { prometheusError } : {}),
    routes: view.routes.map((route) => {
      const state = rollouts?.get(route.id);
      const plan = sources.plans?.find((candidate) => candidate.route === route.id);
      const step = state && plan ? plan.steps[state.stepIndex] : undefined;
      return {
        route: route.id,
        rolloutPercent: route.rolloutPercent,
        ...(plan ? { rollout: { status: state?.status ?? 'not started', step: state ? `${state.stepIndex + 1}/${plan.steps.length} ${step === 'shadow' ? 'shadow' : `${step}%`}` : '-', reason: state?.reason ?? null } } : {}),
        lastMinute: route.split.lastMinute,
        errorRatio: { legacy: ratio(route.id, 'legacy'), extracted: ratio(route.id, 'extracted') },
        p99Seconds: { legacy: p99?.get(`${route.id}|legacy`), extracted: p99?.get(`${route.id}|extracted`) },
        ...(mismatches ? { shadowMismatchesLastHour: Math.round(mismatches.get(route.id) ?? 0) } : {}),
        circuit: route.circuit,
      };
    }),
    syncLagSeconds: Object.fromEntries((figures?.lag ?? []).map((sample) => [sample.labels.relay ?? '', sample.value])),
    driftRows: Object.fromEntries((figures?.drift ?? []).map((sample) => [sample.labels.aggregatetype ?? '', sample.value])),
    legacyEndpoints: inventory,
    replicas,
  };
}

