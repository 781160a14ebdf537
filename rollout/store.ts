import type pg from 'pg';
import { RolloutError } from './errors';

/** progressing: the controller moves it; paused: held at its step; the others are final until the next start. */
export type RolloutStatus = 'progressing' | 'paused' | 'succeeded' | 'rolled_back' | 'aborted';

export interface RolloutState {
  route: string;
  status: RolloutStatus;
  stepIndex: number;
  /** The rollout percentage in force; 0 in the shadow step and after a rollback or abort. */
  weight: number;
  /** When the current step's flags were set; null while they are still to be set. */
  stepStartedAt: Date | null;
  /** Failed analyses in the current step. */
  failures: number;
  /** Why it was rolled back, aborted or paused. */
  reason: string | null;
  updatedAt: Date;
}

export interface RolloutEvent {
  id: number;
  route: string;
  at: Date;
  kind: string;
  stepIndex: number | null;
  weight: number | null;
  detail: Record<string, unknown>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface StateRow {
  route: string;
  status: RolloutStatus;
  step_index: number;
  weight: string;
  step_started_at: Date | null;
  failures: number;
  reason: string | null;
  updated_at: Date;
}

const toState = (row: StateRow): RolloutState => ({
  route: row.route,
  status: row.status,
  stepIndex: row.step_index,
  weight: Number(row.weight),
  stepStartedAt: row.step_started_at,
  failures: row.failures,
  reason: row.reason,
  updatedAt: row.updated_at,
});

/**
 * Each route's rollout state and its event log, in Postgres: a restarted controller resumes from the stored step,
 * and every command (start, pause, resume, abort) is a row change the controller picks up.
 */
export class RolloutStore {
  private readonly states: string;
  private readonly events: string;

  constructor(
    private readonly pool: pg.Pool,
    schema = 'public',
  ) {
    if (!IDENTIFIER.test(schema)) throw new RolloutError('SFG_ROLLOUT_INVALID_PLAN', `database.schema: '${schema}' is not a plain SQL identifier`);
    this.states = `"${schema}".strangler_rollouts`;
    this.events = `"${schema}".strangler_rollout_events`;
  }

  /** Creates the tables; safe to run from several processes at once (a controller and a CLI command). */
  async migrate(): Promise<void> {
    await this.transaction(async (client) => {
      // Concurrent `create table if not exists` can still collide on the type catalog: one at a time.
      await client.query("select pg_advisory_xact_lock(hashtext('strangler-rollout-migrations'))");
      await client.query(`
      create table if not exists ${this.states} (
        route text primary key,
        status text not null check (status in ('progressing', 'paused', 'succeeded', 'rolled_back', 'aborted')),
        step_index int not null,
        weight numeric not null,
        step_started_at timestamptz,
        failures int not null default 0,
        reason text,
        updated_at timestamptz not null default now()
      );
      create table if not exists ${this.events} (
        id bigserial primary key,
        route text not null,
        at timestamptz not null default now(),
        kind text not null,
        step_index int,
        weight numeric,
        detail jsonb not null default '{}'
      );
      create index if not exists strangler_rollout_events_route on ${this.events} (route, id);`);
    });
  }

  async get(route: string): Promise<RolloutState | undefined> {
    const { rows } = await this.pool.query<StateRow>(`select * from ${this.states} where route = $1`, [route]);
    return rows[0] && toState(rows[0]);
  }

  async list(): Promise<RolloutState[]> {
    return (await this.pool.query<StateRow>(`select * from ${this.states} order by route`)).rows.map(toState);
  }

  /** The newest `limit` events, oldest first; of one route or all. */
  async recentEvents(route?: string, limit = 50): Promise<RolloutEvent[]> {
    const { rows } = await this.pool.query<{ id: string; route: string; at: Date; kind: string; step_index: number | null; weight: string | null; detail: Record<string, unknown> }>(
      `select * from (select * from ${this.events} where $1::text is null or route = $1 order by id desc limit $2) newest order by id`,
      [route ?? null, limit],
    );
    return rows.map((row) => ({ id: Number(row.id), route: row.route, at: row.at, kind: row.kind, stepIndex: row.step_index, weight: row.weight === null ? null : Number(row.weight), detail: row.detail }));
  }

  /** Starts (or restarts after an end) a route's rollout at its first step. Refuses one that is progressing or paused. */
  async start(route: string, by = 'operator'): Promise<RolloutState> {
    return this.transaction(async (client) => {
      const { rows } = await client.query<StateRow>(`select * from ${this.states} where route = $1 for update`, [route]);
      const existing = rows[0];
      if (existing && (existing.status === 'progressing' || existing.status === 'paused')) {
        throw new RolloutError('SFG_ROLLOUT_ALREADY_RUNNING', `route '${route}' has a rollout ${existing.status} at step ${existing.step_index + 1}: abort it first`);
      }
      const state = await client.query<StateRow>(
        `insert into ${this.states} (route, status, step_index, weight, step_started_at, failures, reason, updated_at)
         values ($1, 'progressing', 0, 0, null, 0, null, now())
         on conflict (route) do update set status = 'progressing', step_index = 0, weight = 0, step_started_at = null, failures = 0, reason = null, updated_at = now()
         returning *`,
        [route],
      );
      await this.log(client, route, 'started', 0, 0, { by });
      return toState(state.rows[0]!);
    });
  }

  /** An operator's pause, resume or abort: allowed only from the statuses listed. */
  async command(route: string, command: 'pause' | 'resume' | 'abort', reason?: string): Promise<RolloutState> {
    const transitions = { pause: [['progressing'], 'paused'], resume: [['paused'], 'progressing'], abort: [['progressing', 'paused'], 'aborted'] } as const;
    const [from, to] = transitions[command];
    return this.transaction(async (client) => {
      const { rows } = await client.query<StateRow>(`select * from ${this.states} where route = $1 for update`, [route]);
      const existing = rows[0];
      if (!existing) throw new RolloutError('SFG_ROLLOUT_NOT_FOUND', `route '${route}' has no rollout: start one first`);
      if (!(from as readonly string[]).includes(existing.status)) {
        throw new RolloutError('SFG_ROLLOUT_BAD_TRANSITION', `cannot ${command} the rollout of '${route}': it is ${existing.status}`);
      }
      const updated = await client.query<StateRow>(
        `update ${this.states} set status = $2, reason = $3, updated_at = now() where route = $1 returning *`,
        [route, to, reason ?? (command === 'resume' ? null : `${to} by operator`)],
      );
      await this.log(client, route, command, existing.step_index, Number(existing.weight), reason ? { reason } : {});
      return toState(updated.rows[0]!);
    });
  }

  /**
   * The controller's change of a route's state, with the event that explains it, in one transaction; only while
   * the status is still `onlyIf` (an operator's pause or abort in the meantime wins). Undefined when it was not.
   */
  async advance(
    route: string,
    onlyIf: RolloutStatus,
    change: Partial<Omit<RolloutState, 'route' | 'updatedAt'>>,
    event: { kind: string; detail?: Record<string, unknown> },
  ): Promise<RolloutState | undefined> {
    const columns: Record<string, unknown> = {
      status: change.status,
      step_index: change.stepIndex,
      weight: change.weight,
      step_started_at: change.stepStartedAt,
      failures: change.failures,
      reason: change.reason,
    };
    const set = Object.entries(columns).filter(([, value]) => value !== undefined);
    return this.transaction(async (client) => {
      const { rows } = await client.query<StateRow>(
        `update ${this.states} set ${set.map(([column], index) => `${column} = $${index + 3}`).concat('updated_at = now()').join(', ')} where route = $1 and status = $2 returning *`,
        [route, onlyIf, ...set.map(([, value]) => value)],
      );
      if (!rows[0]) return undefined;
      const state = toState(rows[0]);
      await this.log(client, route, event.kind, state.stepIndex, state.weight, event.detail ?? {});
      return state;
    });
  }

  /** An event that changes no state (an analysis, an error). */
  async record(route: string, kind: string, stepIndex: number, weight: number, detail: Record<string, unknown>): Promise<void> {
    await this.log(this.pool, route, kind, stepIndex, weight, detail);
  }

  private async log(client: pg.Pool | pg.PoolClient, route: string, kind: string, stepIndex: number, weight: number, detail: Record<string, unknown>): Promise<void> {
    await client.query(`insert into ${this.events} (route, kind, step_index, weight, detail) values ($1, $2, $3, $4, $5)`, [route, kind, stepIndex, weight, detail]);
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const result = await work(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
