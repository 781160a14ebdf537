import { Counter, type CounterConfiguration, type Metric, type Registry } from 'prom-client';

type LabelValues<L extends string> = Partial<Record<L, string | number>>;
/** A sample as prom-client's registries read it from a metric's get(). */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/*
 * prom-client builds and hashes a label set and validates it on every inc() and observe(), even through a child from
 * labels(). Per request that is a few percent of the proxy's CPU. The series here are plain numbers the request path
 * adds to; they reach the registry when it is collected (a scrape), which costs one pass over the series.
 */

/** One labelled series of a `BatchedCounter`: the request path adds to `pending`. */
export class CountSlot<L extends string> {
  pending = 0;

  constructor(readonly labels: LabelValues<L>) {}
}

/** A prom-client counter fed from `CountSlot`s, handed over when the counter is collected. */
export class BatchedCounter<L extends string> {
  readonly counter: Counter<L>;
  private readonly slots: Array<CountSlot<L>> = [];

  constructor(configuration: Omit<CounterConfiguration<L>, 'collect'>) {
    const slots = this.slots;
    this.counter = new Counter<L>({
      ...configuration,
      collect() {
        for (const slot of slots) {
          if (slot.pending === 0) continue;
          this.inc(slot.labels, slot.pending);
          slot.pending = 0;
        }
      },
    });
  }

  /** A new series; keep it, as every call adds one. */
  slot(labels: LabelValues<L>): CountSlot<L> {
    const slot = new CountSlot(labels);
    this.slots.push(slot);
    return slot;
  }
}

/** One labelled series of a `BatchedHistogram`: bucket counts (not cumulative), sum and count. */
export class HistogramSlot<L extends string> {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: LabelValues<L>,
    private readonly upperBounds: readonly number[],
  ) {
    this.counts = new Float64Array(upperBounds.length);
  }

  observe(value: number): void {
    const bounds = this.upperBounds;
    let index = 0;
    while (index < bounds.length && value > bounds[index]!) index += 1;
    if (index < bounds.length) this.counts[index] = this.counts[index]! + 1;
    this.sum += value;
    this.count += 1;
  }
}

export interface BatchedHistogramConfiguration<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  buckets: readonly number[];
  registers: Registry[];
}

/**
 * A histogram registered with prom-client as a metric of its own: it reads its `HistogramSlot`s when collected and
 * reports what prom-client's Histogram would (`_bucket` with `le`, `_sum`, `_count`; summed across workers).
 */
export class BatchedHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  private readonly upperBounds: readonly number[];
  private readonly slots = new Map<string, HistogramSlot<L>>();

  constructor(configuration: BatchedHistogramConfiguration<L>) {
    this.name = configuration.name;
    this.help = configuration.help;
    this.labelNames = configuration.labelNames;
    this.upperBounds = [...configuration.buckets].sort((a, b) => a - b);
    for (const registry of configuration.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series for `labels`: keep it, the lookup is not meant for the request path. */
  slot(labels: LabelValues<L>): HistogramSlot<L> {
    const key = JSON.stringify(this.labelNames.map((name) => labels[name]));
    let slot = this.slots.get(key);
    if (!slot) {
      slot = new HistogramSlot(labels, this.upperBounds);
      this.slots.set(key, slot);
    }
    return slot;
  }

  get(): Promise<{ name: string; help: string; type: 'histogram'; values: Sample[]; aggregator: 'sum' }> {
    const bucket = `${this.name}_bucket`;
    const values: Sample[] = [];
    for (const slot of this.slots.values()) {
      if (slot.count === 0) continue;
      const labels = slot.labels as Record<string, string | number>;
      let cumulative = 0;
      for (let index = 0; index < this.upperBounds.length; index += 1) {
        cumulative += slot.counts[index]!;
        values.push({ labels: { ...labels, le: this.upperBounds[index]! }, value: cumulative, metricName: bucket });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: slot.count, metricName: bucket });
      values.push({ labels: { ...labels }, value: slot.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: slot.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  /** Forgets every observation (registry.resetMetrics()); the slots stay valid. */
  reset(): void {
    for (const slot of this.slots.values()) {
      slot.counts.fill(0);
      slot.sum = 0;
      slot.count = 0;
    }
  }
}
