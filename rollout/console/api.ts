import type { RolloutPlan } from '../options';
import type { StatusReport } from '../status';
import type { RolloutEvent, RolloutState } from '../store';

/** A value as it arrives over JSON: dates are ISO strings. */
export type Json<T> = T extends Date ? string : T extends Array<infer Item> ? Array<Json<Item>> : T extends object ? { [Key in keyof T]: Json<T[Key]> } : T;

type Points = Array<[number, number]>;

/** One route's lines over the chart range: share served by the new side, failure ratio and p99 per side. */
export interface RouteSeries {
  extractedShare: Points;
  errorRatio: { legacy: Points; extracted: Points };
  p99Seconds: { legacy: Points; extracted: Points };
}

export interface ConsolePlanOf<State> {
  route: string;
  steps: RolloutPlan['steps'];
  state: State | null;
}

/** GET /api/status, as the server builds it. */
export type ConsoleStatusReport = StatusReport & { plans: Array<ConsolePlanOf<RolloutState>> };
/** GET /api/series. */
export interface ConsoleSeries {
  startS: number;
  endS: number;
  stepS: number;
  routes: Record<string, RouteSeries>;
}

/** What the page's script reads (browser/console.js), the server's types through JSON. */
export type ConsoleStatus = Json<ConsoleStatusReport>;
export type ConsolePlan = Json<ConsolePlanOf<RolloutState>>;
export type ConsoleEvents = { events: Array<Json<RolloutEvent>> };
