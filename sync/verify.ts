import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { sideReader, type MigrationStores, type SideConnection, type SideReader } from './side';
import type { SideStore } from './store';
import type { Document, Translator } from './translate';

export type DriftKind = 'missingInTarget' | 'missingInSource' | 'stale' | 'different';

export interface DriftExample {
  kind: DriftKind;
  id: string;
  sourceVersion: number | null;
  targetVersion: number | null;
}

export interface VerifyReport {
  aggregateType: string;
  /** Rows on legacy (the source) and on the service (the target). */
  sourceRows: number;
  targetRows: number;
  /** Rows per kind: on legacy only, on the service only, same key with different versions, same version different content. */
  counts: Record<DriftKind, number>;
  /** Sum of counts: the value of strangler_sync_drift_rows{aggregatetype}. */
  driftRows: number;
  /** Up to `maxExamples` per kind. */
  examples: DriftExample[];
}

interface Summary {
  key: string;
  /** Null on a captured side (no version): such rows compare by content only. */
  version: number | null;
  hash: string;
}

/**
 * Legacy documents are translated to the service's shape; both are hashed in the service's normalized form. When
 * legacy is captured (`byContent`), the service's version is left out of the hash: only content compares.
 */
async function* summaries(side: SideReader, chunkSize: number, compareAs: SideStore, translate: Translator | undefined, byContent: boolean): AsyncGenerator<Summary> {
  for await (const page of side.pages({ chunkSize })) {
    for (const { document } of page) {
      const shaped: Document = translate ? translate(document) : document;
      yield {
        key: String(document[side.mapping.keyField]),
        version: side.mapping.versionField === undefined ? null : Number(document[side.mapping.versionField]),
        hash: byContent ? compareAs.contentHash(shaped) : createHash('sha256').update(JSON.stringify(compareAs.normalized(shaped))).digest('hex'),
      };
    }
  }
}

/**
 * Compares one aggregate between legacy and the service by key, version and content (legacy translated through
 * the mapping), with a merge join over both sides read in key order, page by page: memory stays flat. A captured
 * legacy side has no version: rows compare by the hash of their normalized translated content only (`different`
 * when it differs; never `stale`). The legacy side may be in MySQL/MariaDB (its pool a MySqlDatabase): its values are
 * decoded to what node-postgres answers for the equivalent types, then translated and normalised by the same code.
 */
export async function verify(
  stores: MigrationStores,
  pools: { legacy: SideConnection; service: Pool },
  options: {
    chunkSize: number;
    maxExamples: number;
    /** Called for every drifting row, beyond the examples (a drift monitor tells settled drift from rows in flight). */
    onDrift?: (drift: DriftExample) => void;
  },
): Promise<VerifyReport> {
  const { legacy, service, mapping } = stores;
  const report: VerifyReport = {
    aggregateType: mapping.aggregateType,
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
  const before = legacy.keyKind === 'integer' ? (a: string, b: string) => Number(a) < Number(b) : (a: string, b: string) => a < b;
  const byContent = legacy.mapping.captured;
  const left = summaries(sideReader(legacy, pools.legacy), options.chunkSize, service, mapping.toService, byContent);
  const right = summaries(sideReader(service, pools.service), options.chunkSize, service, undefined, byContent);
  let a = await left.next();
  let b = await right.next();
  while (!a.done || !b.done) {
    if (!b.done && (a.done || before(b.value.key, a.value.key))) {
      record('missingInSource', b.value.key, null, b.value.version);
      report.targetRows += 1;
      b = await right.next();
    } else if (!a.done && (b.done || before(a.value.key, b.value.key))) {
      record('missingInTarget', a.value.key, a.value.version, null);
      report.sourceRows += 1;
      a = await left.next();
    } else if (!a.done && !b.done) {
      if (!byContent && a.value.version !== b.value.version) record('stale', a.value.key, a.value.version, b.value.version);
      else if (a.value.hash !== b.value.hash) record('different', a.value.key, a.value.version, b.value.version);
      report.sourceRows += 1;
      report.targetRows += 1;
      a = await left.next();
      b = await right.next();
    }
  }
  return report;
}
