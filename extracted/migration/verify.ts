import type { Pool } from 'pg';
import { contentHash, type AggregateBase, type AggregateType } from '../common/aggregates';
import { readInIdOrder } from './reader';

export type DriftKind = 'missingInTarget' | 'missingInSource' | 'stale' | 'different';

export interface DriftExample {
  kind: DriftKind;
  id: string;
  sourceVersion: number | null;
  targetVersion: number | null;
}

export interface VerifyReport {
  aggregateType: AggregateType;
  sourceRows: number;
  targetRows: number;
  /** Rows per kind: in source only, in target only, same id with different versions, same version different content. */
  counts: Record<DriftKind, number>;
  /** Sum of counts: the value of strangler_sync_drift_rows{aggregatetype}. */
  driftRows: number;
  /** Up to `maxExamples` per kind. */
  examples: DriftExample[];
}

interface Summary {
  id: string;
  version: number;
  hash: string;
}

async function* summaries(pool: Pool, aggregateType: AggregateType, chunkSize: number): AsyncGenerator<Summary> {
  for await (const chunk of readInIdOrder(pool, aggregateType, { chunkSize })) {
    for (const { entity } of chunk) yield { id: entity.id, version: entity.version, hash: contentHash(entity as AggregateBase) };
  }
}

/**
 * Compares one aggregate between `source` (legacy) and `target` (a service) by id, version and content hash,
 * with a merge join over both tables read in id order, chunk by chunk: memory stays flat however many rows.
 */
export async function verify(
  source: Pool,
  target: Pool,
  options: {
    aggregateType: AggregateType;
    chunkSize: number;
    maxExamples: number;
    /** Called for every drifting row, beyond the examples (the drift monitor tells settled drift from rows in flight). */
    onDrift?: (drift: DriftExample) => void;
  },
): Promise<VerifyReport> {
  const report: VerifyReport = {
    aggregateType: options.aggregateType,
    sourceRows: 0,
    targetRows: 0,
    counts: { missingInTarget: 0, missingInSource: 0, stale: 0, different: 0 },
    driftRows: 0,
    examples: [],
  };
  const record = (kind: DriftKind, id: string, sourceVersion: number | null, targetVersion: number | null) => {
    report.counts[kind] += 1;
    report.driftRows += 1;
    if (report.counts[kind] <= options.maxExamples) report.examples.push({ kind, id, sourceVersion, targetVersion });
    options.onDrift?.({ kind, id, sourceVersion, targetVersion });
  };
  const left = summaries(source, options.aggregateType, options.chunkSize);
  const right = summaries(target, options.aggregateType, options.chunkSize);
  let a = await left.next();
  let b = await right.next();
  while (!a.done || !b.done) {
    if (!b.done && (a.done || b.value.id < a.value.id)) {
      record('missingInSource', b.value.id, null, b.value.version);
      report.targetRows += 1;
      b = await right.next();
    } else if (!a.done && (b.done || a.value.id < b.value.id)) {
      record('missingInTarget', a.value.id, a.value.version, null);
      report.sourceRows += 1;
      a = await left.next();
    } else if (!a.done && !b.done) {
      if (a.value.version !== b.value.version) record('stale', a.value.id, a.value.version, b.value.version);
      else if (a.value.hash !== b.value.hash) record('different', a.value.id, a.value.version, b.value.version);
      report.sourceRows += 1;
      report.targetRows += 1;
      a = await left.next();
      b = await right.next();
    }
  }
  return report;
}
