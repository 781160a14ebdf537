import type { TrafficSplit } from './route-table';

export interface RecentSplitView {
  legacy: number;
  extracted: number;
  extractedPercent: number;
  /** How many seconds the counts cover: the window, or less while the proxy is younger than that. */
  windowSeconds: number;
}

interface Sample {
  at: number;
  counts: Map<string, TrafficSplit>;
}

export function extractedPercent(counts: TrafficSplit): number {
  const total = counts.legacy + counts.extracted;
  return total ? Math.round((counts.extracted / total) * 1000) / 10 : 0;
}

/**
 * The legacy/extracted split of the last minute per route, beside the cumulative counters the hot path keeps. The
 * request path never touches it: a timer copies the cumulative counts every `sampleMs`, and the share over the
 * window is the current count minus the oldest copy still inside it.
 */
export class RecentSplits {
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly current: () => Iterable<[route: string, split: TrafficSplit]>,
    private readonly windowMs = 60_000,
    private readonly sampleMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sample(): void {
    const at = this.now();
    const counts = new Map<string, TrafficSplit>();
    for (const [route, split] of this.current()) counts.set(route, { legacy: split.legacy, extracted: split.extracted });
    this.samples.push({ at, counts });
    while (this.samples.length > 1 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
  }

  /** The split of `route` since the oldest sample in the window; `split` is its cumulative counter now. */
  view(route: string, split: TrafficSplit): RecentSplitView {
    const now = this.now();
    const baseline = this.samples.find((sample) => sample.at >= now - this.windowMs) ?? this.samples.at(-1);
    const before = baseline?.counts.get(route) ?? { legacy: 0, extracted: 0 };
    const counts = { legacy: split.legacy - before.legacy, extracted: split.extracted - before.extracted };
    return { ...counts, extractedPercent: extractedPercent(counts), windowSeconds: Math.round((now - (baseline?.at ?? now)) / 1000) };
  }
}
