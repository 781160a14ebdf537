import type { Pool } from 'pg';
import { entityToParams, TABLES, type AggregateType } from '../common/aggregates';
import { withTransaction } from '../common/db';
import { countRows, readInIdOrder } from './reader';

export const CHECKPOINT_TABLE = 'strangler_backfill_checkpoints';

export interface BackfillOptions {
  aggregateType: AggregateType;
  /** Rows per read and per target transaction. */
  chunkSize: number;
  /** Names the checkpoint, so two backfills of one aggregate (from different sources) resume separately. */
  checkpointName: string;
  /** Forget a finished or partial checkpoint and copy from the first row again. */
  restart: boolean;
}

export interface BackfillProgress {
  /** Rows read from the source so far, including those of earlier, interrupted runs. */
  scanned: number;
  /** Rows written to the target (missing there, or older there). */
  copied: number;
  /** Rows the target already had at the same or a newer version. */
  skipped: number;
  /** Source row count when this run started: an estimate while writes continue. */
  total: number;
}

export interface BackfillResult extends BackfillProgress {
  resumedAfterId: string | null;
  alreadyComplete: boolean;
}

interface Checkpoint {
  last_id: string | null;
  scanned: string;
  copied: string;
  skipped: string;
  finished_at: Date | null;
}

async function ensureCheckpointTable(target: Pool): Promise<void> {
  await target.query(`create table if not exists ${CHECKPOINT_TABLE} (
    name text primary key,
    last_id uuid,
    scanned bigint not null default 0,
    copied bigint not null default 0,
    skipped bigint not null default 0,
    started_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    finished_at timestamptz
  )`);
}

/**
 * Copies one aggregate's rows from `source` (legacy) to `target` (a service) while both keep taking writes.
 * Each chunk is upserted only where the target's version is older (so a newer row that sync already delivered
 * is never overwritten) and the checkpoint advances in the same target transaction: a crash or Ctrl-C resumes
 * after the last committed chunk. No outbox events are written: a backfill is sync, not a change.
 */
export async function backfill(
  source: Pool,
  target: Pool,
  options: BackfillOptions,
  onProgress: (progress: BackfillProgress) => void = () => undefined,
  signal?: AbortSignal,
): Promise<BackfillResult> {
  await ensureCheckpointTable(target);
  if (options.restart) await target.query(`delete from ${CHECKPOINT_TABLE} where name = $1`, [options.checkpointName]);
  await target.query(`insert into ${CHECKPOINT_TABLE} (name) values ($1) on conflict (name) do nothing`, [options.checkpointName]);
  const checkpoint = (await target.query<Checkpoint>(`select * from ${CHECKPOINT_TABLE} where name = $1`, [options.checkpointName])).rows[0]!;
  const progress: BackfillProgress = {
    scanned: Number(checkpoint.scanned),
    copied: Number(checkpoint.copied),
    skipped: Number(checkpoint.skipped),
    total: await countRows(source, options.aggregateType),
  };
  const result = { resumedAfterId: checkpoint.last_id, alreadyComplete: checkpoint.finished_at !== null };
  if (result.alreadyComplete) return { ...progress, ...result };
  onProgress(progress);

  const descriptor = TABLES[options.aggregateType];
  const chunks = readInIdOrder(source, options.aggregateType, { chunkSize: options.chunkSize, afterId: checkpoint.last_id ?? undefined });
  for await (const chunk of chunks) {
    await withTransaction(target, async (client) => {
      let copied = 0;
      for (const { entity, origin } of chunk) {
        copied += (await client.query(descriptor.sql.upsertIfNewer, entityToParams(descriptor, entity, origin))).rowCount ?? 0;
      }
      progress.scanned += chunk.length;
      progress.copied += copied;
      progress.skipped += chunk.length - copied;
      await client.query(
        `update ${CHECKPOINT_TABLE} set last_id = $2, scanned = $3, copied = $4, skipped = $5, updated_at = now() where name = $1`,
        [options.checkpointName, chunk[chunk.length - 1]!.entity.id, progress.scanned, progress.copied, progress.skipped],
      );
    });
    onProgress(progress);
    if (signal?.aborted) return { ...progress, ...result };
  }
  await target.query(`update ${CHECKPOINT_TABLE} set finished_at = now() where name = $1`, [options.checkpointName]);
  return { ...progress, ...result };
}
