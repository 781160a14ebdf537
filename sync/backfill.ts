import type { Pool } from 'pg';
import { CapturedSync } from './captured';
import { legacyAccess } from './legacy-access';
import type { MySqlDatabase } from './mysql-store';
import { sideReader, type MigrationStores, type SideConnection } from './side';
import { ensureSyncTables } from './state';

export const CHECKPOINT_TABLE = 'strangler_sync_backfill';

export interface BackfillOptions {
  /** Rows per read and per target transaction. */
  chunkSize: number;
  /** Names the checkpoint, so backfills of one aggregate from different sources resume separately. */
  checkpointName: string;
  /** Forget a finished or partial checkpoint and copy from the first row again. */
  restart: boolean;
  /** The origin recorded for copied rows when the legacy side has no origin column. */
  legacyOrigin: string;
}

export interface BackfillProgress {
  /** Rows read from legacy so far, including those of earlier, interrupted runs. */
  scanned: number;
  /** Rows written to the service (missing there, or older there). */
  copied: number;
  /** Rows the service already had at the same or a newer version. */
  skipped: number;
  /** Legacy row count when this run started: an estimate while writes continue. */
  total: number;
}

export interface BackfillResult extends BackfillProgress {
  resumedAfterKey: string | null;
  alreadyComplete: boolean;
}

interface Checkpoint {
  last_key: string | null;
  scanned: string;
  copied: string;
  skipped: string;
  finished_at: Date | null;
}

async function ensureCheckpointTable(target: Pool): Promise<void> {
  await target.query(`create table if not exists ${CHECKPOINT_TABLE} (
    name text primary key,
    last_key text,
    scanned bigint not null default 0,
    copied bigint not null default 0,
    skipped bigint not null default 0,
    started_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    finished_at timestamptz
  )`);
}

/**
 * Copies one aggregate from legacy to the service through the mapping's `toService` translation, while both sides
 * keep taking writes. A row is written only where the service's version is older (a newer row that sync already
 * delivered is never overwritten), and the checkpoint advances in the same service transaction: a crash or Ctrl-C
 * resumes after the last committed chunk. No outbox event is written: a backfill is sync, not a change.
 *
 * A captured legacy side has no version: each page's keys go through the captured sync's read-through under their
 * sync state locks. A key the sync never saw is written where the service lacks it or holds different content (by
 * normalized content hash), and its sync state is initialised; a key the sync already handles is decided as a
 * captured change would be (an agreed key is skipped, a concurrent service write is a conflict, never overwritten).
 */
export async function backfill(
  stores: MigrationStores,
  pools: { legacy: SideConnection; service: Pool },
  options: BackfillOptions,
  onProgress: (progress: BackfillProgress) => void = () => undefined,
  signal?: AbortSignal,
): Promise<BackfillResult> {
  const { service, mapping } = stores;
  const legacy = sideReader(stores.legacy, pools.legacy);
  await ensureCheckpointTable(pools.service);
  if (options.restart) await pools.service.query(`delete from ${CHECKPOINT_TABLE} where name = $1`, [options.checkpointName]);
  await pools.service.query(`insert into ${CHECKPOINT_TABLE} (name) values ($1) on conflict (name) do nothing`, [options.checkpointName]);
  const checkpoint = (await pools.service.query<Checkpoint>(`select * from ${CHECKPOINT_TABLE} where name = $1`, [options.checkpointName])).rows[0]!;
  const progress: BackfillProgress = {
    scanned: Number(checkpoint.scanned),
    copied: Number(checkpoint.copied),
    skipped: Number(checkpoint.skipped),
    total: await legacy.count(),
  };
  const result = { resumedAfterKey: checkpoint.last_key, alreadyComplete: checkpoint.finished_at !== null };
  if (result.alreadyComplete) return { ...progress, ...result };
  onProgress(progress);

  // A captured legacy side has no version: documents are compared by content and the sync state is set up.
  const captured = mapping.legacy.captured
    ? new CapturedSync({ legacy: options.legacyOrigin, service: '' }, [stores], { legacy: legacyAccess(pools.legacy as Pool | MySqlDatabase, [stores]) })
    : undefined;
  if (captured) await ensureSyncTables(pools.service);
  for await (const page of legacy.pages({ chunkSize: options.chunkSize, afterKey: checkpoint.last_key ?? undefined })) {
    const client = await pools.service.connect();
    try {
      await client.query('begin');
      let copied = 0;
      if (captured) {
        const outcomes = await captured.applyFromLegacy(client, mapping.aggregateType, [...new Set(page.map(({ key }) => key))].sort(), { backfill: true });
        for (const outcome of outcomes.values()) if (outcome !== 'stale') copied += 1;
      }
      for (const { document, origin } of captured ? [] : page) {
        const translated = mapping.toService(document);
        const stored = await service.lock(client, translated[service.mapping.keyField]);
        if (stored && stored.version >= Number(translated[service.mapping.versionField!])) continue;
        await service.write(client, translated, origin ?? options.legacyOrigin);
        copied += 1;
      }
      progress.scanned += page.length;
      progress.copied += copied;
      progress.skipped += page.length - copied;
      const lastKey = page[page.length - 1]!.key;
      await client.query(
        `update ${CHECKPOINT_TABLE} set last_key = $2, scanned = $3, copied = $4, skipped = $5, updated_at = now() where name = $1`,
        [options.checkpointName, lastKey, progress.scanned, progress.copied, progress.skipped],
      );
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    onProgress(progress);
    if (signal?.aborted) return { ...progress, ...result };
  }
  await pools.service.query(`update ${CHECKPOINT_TABLE} set finished_at = now() where name = $1`, [options.checkpointName]);
  return { ...progress, ...result };
}
