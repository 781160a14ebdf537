import type { ReadinessView } from '../admin';
import { CIRCUIT_STATE_NAMES } from '../circuit';
import type { ShadowMismatch } from '../shadow';

const openness = (state: string) => CIRCUIT_STATE_NAMES.indexOf(state as (typeof CIRCUIT_STATE_NAMES)[number]);

/**
 * The readiness of several workers as one: ready when `expected` workers answered and each is ready; a cluster is
 * healthy when healthy in every worker, unhealthy when unhealthy in one; its circuit is the most open one.
 */
export function mergeReadiness(views: ReadinessView[], expected: number): ReadinessView & { workers: { expected: number; ready: number } } {
  const clusters: ReadinessView['clusters'] = {};
  for (const view of views) {
    for (const [name, state] of Object.entries(view.clusters)) {
      const seen = clusters[name];
      if (!seen) {
        clusters[name] = { ...state };
        continue;
      }
      seen.healthy = seen.healthy === false || state.healthy === false ? false : seen.healthy === state.healthy ? seen.healthy : null;
      if (openness(state.circuit) > openness(seen.circuit)) seen.circuit = state.circuit;
    }
  }
  const ready = views.filter((view) => view.ready).length;
  return {
    ready: ready === expected && views.length === expected,
    flagsReady: views.length > 0 && views.every((view) => view.flagsReady),
    clusters,
    workers: { expected, ready },
  };
}

/** Recent shadow mismatches of several workers, newest first. */
export function mergeMismatches(lists: ShadowMismatch[][]): ShadowMismatch[] {
  return lists.flat().sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}
