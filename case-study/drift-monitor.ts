import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createDriftGauge, openAggregates, verify, type AggregateStores, type DriftExample } from '../sync';
import { AGGREGATE_TYPES, type AggregateType } from '../legacy-monolith';
import { caseStudyMapping } from './mapping';

/**
 * Drift that has settled: rows that drift the same way (same kind, same versions on both sides) in two checks in a
 * row. Sync is asynchronous, so under steady writes every check sees some rows in flight; they have moved on by the
 * next check, unless sync is behind by more than the interval, which is drift worth an alert.
 */
export class SettledDrift {
  private readonly previous = new Map<AggregateType, Set<string>>();

  /** Records this check's drifting rows of `aggregateType`; returns how many also drifted, unchanged, last time. */
  observe(aggregateType: AggregateType, drifting: Iterable<DriftExample>): number {
    const current = new Set<string>();
    for (const drift of drifting) current.add(`${drift.kind}:${drift.id}:${drift.sourceVersion}:${drift.targetVersion}`);
    const before = this.previous.get(aggregateType) ?? new Set<string>();
    this.previous.set(aggregateType, current);
    let settled = 0;
    for (const key of current) if (before.has(key)) settled += 1;
    return settled;
  }
}

/**
 * Runs `strangler verify` for every aggregate every `intervalMs` and keeps strangler_sync_drift_rows current in
 * `registry` with the drift that has settled (see SettledDrift), so the demo's dashboards and alerts show drift
 * without anyone running the command, and without counting rows still in flight. start()/stop().
 */
export class DriftMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly gauge;
  private readonly settled = new SettledDrift();
  private readonly stores = new Map<AggregateType, AggregateStores>();

  constructor(
    private readonly legacy: Pool,
    private readonly owners: Record<AggregateType, Pool>,
    private readonly intervalMs: number,
    deps: { registry: Registry; logger: Logger },
    private readonly logger = deps.logger.child({ component: 'drift-monitor' }),
  ) {
    this.gauge = createDriftGauge(deps.registry);
  }

  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.check().finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    for (const aggregateType of AGGREGATE_TYPES) {
      try {
        const drifting: DriftExample[] = [];
        const pools = { legacy: this.legacy, service: this.owners[aggregateType] };
        await verify(await this.storesOf(aggregateType), pools, { chunkSize: 1000, maxExamples: 0, onDrift: (drift) => drifting.push(drift) });
        this.gauge.set({ aggregatetype: aggregateType }, this.settled.observe(aggregateType, drifting));
      } catch (error) {
        this.logger.warn({ err: error, aggregateType }, 'drift check failed');
      }
    }
  }

  private async storesOf(aggregateType: AggregateType): Promise<AggregateStores> {
    let stores = this.stores.get(aggregateType);
    if (!stores) {
      const mapping = caseStudyMapping();
      [stores] = await openAggregates(mapping, [mapping.aggregates.get(aggregateType)!], { legacy: this.legacy, service: this.owners[aggregateType] });
      this.stores.set(aggregateType, stores!);
    }
    return stores!;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
