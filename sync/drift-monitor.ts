import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Gauge } from 'prom-client';
import type { MigrationStores, SideConnection } from './side';
import { verify, type DriftExample, type VerifyReport } from './verify';

/**
 * Drift that has settled: rows that drift the same way (same kind, same versions on both sides) in two checks in a
 * row. Sync is asynchronous, so under steady writes every check sees some rows in flight; they have moved on by the
 * next check, unless sync is behind by more than the interval, which is drift worth an alert.
 */
export class SettledDrift {
  private readonly previous = new Map<string, Set<string>>();

  /** Records this check's drifting rows of `aggregateType`; returns how many also drifted, unchanged, last time. */
  observe(aggregateType: string, drifting: Iterable<DriftExample>): number {
    const current = new Set<string>();
    for (const drift of drifting) current.add(`${drift.kind}:${drift.id}:${drift.sourceVersion}:${drift.targetVersion}`);
    const before = this.previous.get(aggregateType) ?? new Set<string>();
    this.previous.set(aggregateType, current);
    let settled = 0;
    for (const key of current) if (before.has(key)) settled += 1;
    return settled;
  }
}

/** One aggregate to watch: its stores and the two databases it lives in. */
export interface DriftTarget {
  stores: MigrationStores;
  pools: { legacy: SideConnection; service: Pool };
}

/** One aggregate's check: the full comparison, and how many of its drifting rows have settled. */
export interface DriftCheck {
  report: VerifyReport;
  settledRows: number;
}

export interface DriftMonitorOptions {
  intervalMs: number;
  /** Rows per read (default 1000). */
  chunkSize?: number;
  /** Examples kept per kind of drift in each report (default 0). */
  maxExamples?: number;
}

/**
 * Verifies every target every `intervalMs` and keeps strangler_sync_drift_rows{aggregatetype} at the drift that has
 * settled (see SettledDrift), so dashboards and alerts show drift without anyone running `strangler verify`, and
 * without counting rows still in flight. `strangler verify --metrics-port` and the case study both run it.
 */
export class DriftMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private readonly settled = new SettledDrift();
  private readonly logger: Logger;

  constructor(
    private readonly targets: readonly DriftTarget[],
    private readonly options: DriftMonitorOptions,
    private readonly deps: { gauge: Gauge<'aggregatetype'>; logger: Logger; onCheck?: (checks: DriftCheck[]) => void },
  ) {
    this.logger = deps.logger.child({ component: 'drift-monitor' });
  }

  /** Checks every `intervalMs`, the first after one interval. */
  start(): void {
    this.schedule();
  }

  /** Lets a check in progress finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Verifies every target now and sets the gauge; an aggregate whose check failed is logged and left out. */
  async check(): Promise<DriftCheck[]> {
    const checks: DriftCheck[] = [];
    for (const target of this.targets) {
      const aggregateType = target.stores.mapping.aggregateType;
      try {
        const drifting: DriftExample[] = [];
        const report = await verify(target.stores, target.pools, {
          chunkSize: this.options.chunkSize ?? 1000,
          maxExamples: this.options.maxExamples ?? 0,
          onDrift: (drift) => drifting.push(drift),
        });
        const settledRows = this.settled.observe(aggregateType, drifting);
        this.deps.gauge.set({ aggregatetype: aggregateType }, settledRows);
        checks.push({ report, settledRows });
      } catch (error) {
        this.logger.warn({ err: error, aggregateType }, 'drift check failed');
      }
    }
    this.deps.onCheck?.(checks);
    return checks;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.check().finally(() => this.schedule());
    }, this.options.intervalMs);
    this.timer.unref();
  }
}
