import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { analyse, type Analysis } from './analysis';
import { createRolloutMetrics, type RolloutMetrics } from './metrics';
import type { RolloutPlan, RolloutStep } from './options';
import type { QueryScalar } from './prometheus';
import { RolloutStore, type RolloutState } from './store';

/** What the controller needs of the flag system: set a flag's rollout percentage (Unleash's Admin API). */
export interface FlagWriter {
  setRollout(flag: string, percent: number): Promise<void>;
}

export interface RolloutControllerDeps {
  pool: pg.Pool;
  /** The connection string for the controller's own lock session (advisory locks, one per route). */
  connectionString: string;
  schema?: string;
  flags: FlagWriter;
  query: QueryScalar;
  logger: Logger;
  registry: Registry;
}

/** The flags of one step: the shadow step mirrors traffic and serves nobody from the new side. */
function weightOf(step: RolloutStep): number {
  return step === 'shadow' ? 0 : step;
}

/**
 * Moves each route through its plan: sets the step's flags, analyses every `analysisInterval`, promotes a step
 * that lasted `stepDuration` and whose last analysis passed, holds on inconclusive ones, and rolls back to 0 %
 * after `failureLimit` failed analyses. One controller acts per route (a Postgres advisory lock), and all state is
 * in Postgres, so a restarted controller resumes where the last one was.
 *
 * Events: 'step' (route, state), 'analysis' (route, analysis), 'rollback' (route, reason), 'succeeded' (route).
 */
export class RolloutController extends EventEmitter {
  readonly store: RolloutStore;
  private readonly metrics: RolloutMetrics;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly busy = new Map<string, Promise<void>>();
  private lockSession: pg.Client | undefined;
  private readonly held = new Set<string>();
  private stopped = false;

  constructor(
    private readonly plans: RolloutPlan[],
    private readonly deps: RolloutControllerDeps,
  ) {
    super();
    this.store = new RolloutStore(deps.pool, deps.schema);
    this.metrics = createRolloutMetrics(deps.registry);
  }

  async start(): Promise<void> {
    await this.store.migrate();
    for (const plan of this.plans) {
      this.metrics.step.labels(plan.route).set(-1);
      this.metrics.leading.labels(plan.route).set(0);
      // Series from 0, so the first rollback is an increase Prometheus can see.
      this.metrics.rollbacks.labels(plan.route).inc(0);
      const tick = () => {
        if (this.stopped || this.busy.has(plan.route)) return;
        const running = this.tick(plan)
          .catch((error: unknown) => this.deps.logger.warn({ err: error, route: plan.route }, 'rollout tick failed; trying again next interval'))
          .finally(() => this.busy.delete(plan.route));
        this.busy.set(plan.route, running);
      };
      this.timers.set(plan.route, setInterval(tick, plan.analysisInterval));
      tick();
    }
  }

  /** Stops acting: lets a tick in progress finish and releases the routes. The flags stay where they are. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearInterval(timer);
    await Promise.allSettled(this.busy.values());
    await this.lockSession?.end().catch(() => undefined);
    this.lockSession = undefined;
    for (const route of this.held) this.metrics.leading.labels(route).set(0);
    this.held.clear();
  }

  /** Whether this controller holds the route now (it acts on it). */
  holds(route: string): boolean {
    return this.held.has(route);
  }

  private async acquire(route: string): Promise<boolean> {
    if (this.held.has(route)) return true;
    if (!this.lockSession) {
      const session = new pg.Client({ connectionString: this.deps.connectionString, application_name: 'strangler-rollout-controller' });
      session.on('error', () => undefined);
      // A lost session loses every lock with it: stop acting until they are taken again.
      session.once('end', () => {
        if (this.lockSession === session) this.lockSession = undefined;
        for (const held of this.held) this.metrics.leading.labels(held).set(0);
        this.held.clear();
      });
      await session.connect();
      this.lockSession = session;
    }
    const { rows } = await this.lockSession.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtext($1)) as locked', [`strangler-rollout:${route}`]);
    if (rows[0]?.locked) {
      this.held.add(route);
      this.metrics.leading.labels(route).set(1);
      this.deps.logger.info({ route }, 'acting on the route');
    }
    return this.held.has(route);
  }

  private async tick(plan: RolloutPlan): Promise<void> {
    if (!(await this.acquire(plan.route))) return;
    const state = await this.store.get(plan.route);
    this.showState(plan, state);
    if (!state) return;
    if (state.status === 'aborted' && state.weight !== 0) {
      await this.setFlags(plan, 0, false);
      this.showState(plan, await this.store.advance(plan.route, 'aborted', { weight: 0 }, { kind: 'flags', detail: { weight: 0, why: 'aborted' } }));
      return;
    }
    if (state.status !== 'progressing') return;
    const step = plan.steps[state.stepIndex]!;
    if (state.stepStartedAt === null) {
      await this.enterStep(plan, state.stepIndex);
      return;
    }
    let analysis: Analysis;
    try {
      analysis = await analyse(plan, step, this.deps.query);
    } catch (error) {
      this.metrics.analyses.labels(plan.route, 'error').inc();
      await this.store.record(plan.route, 'analysis', state.stepIndex, state.weight, { result: 'error', error: (error as Error).message });
      throw error;
    }
    this.metrics.analyses.labels(plan.route, analysis.result).inc();
    await this.store.record(plan.route, 'analysis', state.stepIndex, state.weight, { result: analysis.result, checks: analysis.checks });
    this.emit('analysis', plan.route, analysis);
    if (analysis.result === 'fail') {
      const failures = state.failures + 1;
      if (failures < plan.failureLimit) {
        await this.store.advance(plan.route, 'progressing', { failures }, { kind: 'failure', detail: { failures, failureLimit: plan.failureLimit } });
        return;
      }
      const reason = analysis.checks
        .filter((check) => check.result === 'fail')
        .map((check) => `${check.check}: ${check.detail}`)
        .join('; ');
      await this.setFlags(plan, 0, false);
      this.metrics.rollbacks.labels(plan.route).inc();
      const rolledBack = await this.store.advance(plan.route, 'progressing', { status: 'rolled_back', weight: 0, failures, reason }, { kind: 'rollback', detail: { reason, step } });
      this.showState(plan, rolledBack);
      this.deps.logger.warn({ route: plan.route, step, reason }, 'rolled back to 0 %');
      this.emit('rollback', plan.route, reason);
      return;
    }
    const lasted = Date.now() - state.stepStartedAt.getTime();
    if (analysis.result !== 'pass' || lasted < plan.stepDuration) return;
    if (state.stepIndex === plan.steps.length - 1) {
      const done = await this.store.advance(plan.route, 'progressing', { status: 'succeeded' }, { kind: 'succeeded' });
      this.showState(plan, done);
      this.emit('succeeded', plan.route);
      return;
    }
    await this.enterStep(plan, state.stepIndex + 1);
  }

  /** Records the step first, then sets its flags, then its start: a crash in between sets them again on resume. */
  private async enterStep(plan: RolloutPlan, stepIndex: number): Promise<void> {
    const step = plan.steps[stepIndex]!;
    if (!(await this.store.advance(plan.route, 'progressing', { stepIndex, stepStartedAt: null, failures: 0 }, { kind: 'promote', detail: { step } }))) return;
    await this.setFlags(plan, weightOf(step), step === 'shadow');
    const state = await this.store.advance(plan.route, 'progressing', { weight: weightOf(step), stepStartedAt: new Date() }, { kind: 'step', detail: { step } });
    // Paused or aborted while the flags were being set: the next tick (abort) or a resume takes it from here.
    if (!state) return;
    this.showState(plan, state);
    this.deps.logger.info({ route: plan.route, step, stepIndex }, 'rollout step set');
    this.emit('step', plan.route, state);
  }

  private async setFlags(plan: RolloutPlan, weight: number, shadow: boolean): Promise<void> {
    await this.deps.flags.setRollout(plan.flag, weight);
    if (plan.shadowFlag) await this.deps.flags.setRollout(plan.shadowFlag, shadow ? 100 : 0);
  }

  private showState(plan: RolloutPlan, state: RolloutState | undefined): void {
    const active = state && (state.status === 'progressing' || state.status === 'paused');
    this.metrics.step.labels(plan.route).set(active ? state.stepIndex : -1);
    if (state) this.metrics.weight.labels(plan.route).set(state.weight);
  }
}
