import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AGGREGATE_TYPES, type AggregateType } from '../common/aggregates';
import { createDriftGauge, verify } from '../migration';

/**
 * Runs `strangler verify` for every aggregate every `intervalMs` and keeps strangler_sync_drift_rows current in
 * `registry`, so the demo's dashboards show drift without anyone running the command. start()/stop().
 */
export class DriftMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly gauge;

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
        const report = await verify(this.legacy, this.owners[aggregateType], { aggregateType, chunkSize: 1000, maxExamples: 0 });
        this.gauge.set({ aggregatetype: aggregateType }, report.driftRows);
      } catch (error) {
        this.logger.warn({ err: error, aggregateType }, 'drift check failed');
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
