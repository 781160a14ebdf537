/**
 * How the capture benchmarks time one engine on a backlog: the records it added to its topics from start to the
 * last expected one, and the rate between the first and the last record's CreateTime (the broker's clock, so the
 * engine's own start-up does not count).
 */
import type { Admin, Kafka } from 'kafkajs';

export interface Capture {
  label: string;
  prefix: string;
  /** Starts on the stored position (a slot, a binlog position, Debezium's offsets file). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface Measure {
  ratePerS: number;
  wallMs: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `topicsOf(prefix)`: the topics one engine writes under its prefix. `run` names the reader's consumer groups. */
export function captureMeter(kafka: Kafka, run: string, topicsOf: (prefix: string) => string[], log: (line: string) => void) {
  async function endOffsets(kafkaAdmin: Admin, prefix: string): Promise<Map<string, bigint>> {
    const ends = new Map<string, bigint>();
    for (const topic of topicsOf(prefix)) {
      for (const entry of await kafkaAdmin.fetchTopicOffsets(topic)) ends.set(`${topic}/${entry.partition}`, BigInt(entry.high));
    }
    return ends;
  }

  function added(before: Map<string, bigint>, now: Map<string, bigint>): number {
    let total = 0n;
    for (const [partition, high] of now) total += high - (before.get(partition) ?? 0n);
    return Number(total);
  }

  /** Reads the records from `from` on and returns their first and last CreateTime. */
  async function createTimes(prefix: string, from: Map<string, bigint>, count: number): Promise<{ first: number; last: number }> {
    const consumer = kafka.consumer({ groupId: `${run}_reader_${prefix}_${Date.now()}`, maxWaitTimeInMs: 100, maxBytesPerPartition: 8 << 20 });
    let first = Infinity;
    let last = -Infinity;
    let seen = 0;
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: topicsOf(prefix), fromBeginning: true });
      let reached!: () => void;
      const done = new Promise<void>((resolve) => (reached = resolve));
      consumer.on(consumer.events.GROUP_JOIN, () => {
        for (const [key, offset] of from) {
          const slash = key.lastIndexOf('/');
          consumer.seek({ topic: key.slice(0, slash), partition: Number(key.slice(slash + 1)), offset: offset.toString() });
        }
      });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const start = from.get(`${batch.topic}/${batch.partition}`) ?? 0n;
          for (const message of batch.messages) {
            if (BigInt(message.offset) < start) continue;
            const at = Number(message.timestamp);
            if (at < first) first = at;
            if (at > last) last = at;
            seen += 1;
          }
          if (seen >= count) reached();
        },
      });
      await done;
      return { first, last };
    } finally {
      await consumer.disconnect();
    }
  }

  /** Starts `capture` on its stored position, waits for `expected` records, stops it, and times them. */
  async function measure(capture: Capture, kafkaAdmin: Admin, expected: number): Promise<Measure> {
    const before = await endOffsets(kafkaAdmin, capture.prefix);
    const started = performance.now();
    await capture.start();
    let allAt = 0;
    const deadline = Date.now() + 600_000;
    for (;;) {
      const count = added(before, await endOffsets(kafkaAdmin, capture.prefix));
      if (count >= expected) {
        allAt = performance.now();
        if (count > expected) log(`${capture.label}: ${count - expected} records more than the ${expected} changes`);
        break;
      }
      if (Date.now() > deadline) throw new Error(`${capture.label}: ${count} of ${expected} records after 600 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await capture.stop();
    const { first, last } = await createTimes(capture.prefix, before, expected);
    return { ratePerS: (expected - 1) / Math.max(0.001, (last - first) / 1000), wallMs: allAt - started };
  }

  return { measure };
}
