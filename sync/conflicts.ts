import type { Pool } from 'pg';
import { ConcurrentWriteError, type MarkOrigin, type Origins } from './captured';
import { SyncError } from './errors';
import { legacyAccess } from './legacy-access';
import type { MySqlDatabase } from './mysql-store';
import type { MigrationStores } from './side';
import { CONFLICTS_TABLE, lockSyncState, saveSyncState, type ConflictKind } from './state';
import type { Document } from './translate';

/** One recorded conflict: the losing write and the kept one, with both row images. */
export interface ConflictRow {
  id: string;
  aggregate: string;
  key: string;
  kind: ConflictKind;
  legacyImage: Document | null;
  serviceImage: Document | null;
  kept: 'legacy' | 'service';
  detectedAt: Date;
  resolvedAt: Date | null;
  resolution: string | null;
}

interface Row {
  id: string;
  aggregate: string;
  key: string;
  kind: ConflictKind;
  legacy_image: Document | null;
  service_image: Document | null;
  kept: 'legacy' | 'service';
  detected_at: Date;
  resolved_at: Date | null;
  resolution: string | null;
}

const COLUMNS = 'id::text, aggregate, key, kind, legacy_image, service_image, kept, detected_at, resolved_at, resolution';

function toConflict(row: Row): ConflictRow {
  return {
    id: row.id,
    aggregate: row.aggregate,
    key: row.key,
    kind: row.kind,
    legacyImage: row.legacy_image,
    serviceImage: row.service_image,
    kept: row.kept,
    detectedAt: row.detected_at,
    resolvedAt: row.resolved_at,
    resolution: row.resolution,
  };
}

/** Recorded conflicts, oldest first: the open ones, or all with `includeResolved`; optionally of one aggregate. */
export async function listConflicts(pool: Pool, options: { aggregate?: string; includeResolved?: boolean; limit?: number } = {}): Promise<ConflictRow[]> {
  const exists = (await pool.query(`select to_regclass($1) is not null as found`, [CONFLICTS_TABLE])).rows[0].found as boolean;
  if (!exists) return [];
  const { rows } = await pool.query<Row>(
    `select ${COLUMNS} from ${CONFLICTS_TABLE}
      where ($1::text is null or aggregate = $1) and ($2 or resolved_at is null)
      order by id limit $3`,
    [options.aggregate ?? null, options.includeResolved ?? false, options.limit ?? 1_000],
  );
  return rows.map(toConflict);
}

/**
 * Settles a conflict by re-applying the side an operator picked to both sides: legacy's image (written into legacy
 * as it was, and translated into the service) or the service's (into the service, and translated into legacy).
 * The service's row gets version current + 1, legacy's write is marked with the service's origin (the capture tags
 * it, so the sync does not bring it back), the sync state records the new agreement and the conflict is marked
 * resolved. An image that is null (that side had deleted the aggregate) deletes it on both sides.
 */
export async function applyConflict(
  id: string,
  keep: 'legacy' | 'service',
  context: { stores: MigrationStores[]; pools: { legacy: Pool | MySqlDatabase; service: Pool }; origins: Origins; markOrigin?: MarkOrigin },
): Promise<ConflictRow> {
  if (!/^\d+$/.test(id)) throw new SyncError('SFG_SYNC_CONFLICT_UNKNOWN', `conflict id must be a number (as \`strangler conflicts list\` prints it), got '${id}'`);
  const service = await context.pools.service.connect();
  try {
    await service.query('begin');
    const found = (await service.query<Row>(`select ${COLUMNS} from ${CONFLICTS_TABLE} where id = $1 for update`, [id]).catch((error: { code?: string }) => {
      if (error.code === '42P01') return { rows: [] as Row[] };
      throw error;
    })).rows[0];
    if (!found) throw new SyncError('SFG_SYNC_CONFLICT_UNKNOWN', `no conflict with id ${id} (see strangler conflicts list)`);
    const conflict = toConflict(found);
    if (conflict.resolvedAt) throw new SyncError('SFG_SYNC_CONFLICT_RESOLVED', `conflict ${id} was already resolved at ${conflict.resolvedAt.toISOString()} (${conflict.resolution ?? 'no note'})`);
    const stores = context.stores.find((entry) => entry.mapping.aggregateType === conflict.aggregate);
    if (!stores) throw new SyncError('SFG_SYNC_UNKNOWN_AGGREGATE', `conflict ${id} is of aggregate '${conflict.aggregate}', which the mapping does not declare with a captured legacy side`);
    const { mapping } = stores;
    const legacyDocument = keep === 'legacy' ? conflict.legacyImage : conflict.serviceImage ? mapping.toLegacy(conflict.serviceImage) : null;
    const serviceDocument = keep === 'service' ? conflict.serviceImage : conflict.legacyImage ? mapping.toService(conflict.legacyImage) : null;

    await lockSyncState(service, conflict.aggregate, [conflict.key]);
    const current = (await stores.service.lockMany(service, [conflict.key])).get(conflict.key);
    let serviceVersion: number | null = null;
    if (serviceDocument) {
      serviceVersion = (current?.version ?? 0) + 1;
      const written = { ...serviceDocument, [stores.service.mapping.versionField!]: serviceVersion };
      const origin = keep === 'legacy' ? context.origins.legacy : context.origins.service;
      if (!(await stores.service.writeMany(service, [written], origin, current ? new Set() : new Set([stores.service.keyOf(written)])))) {
        throw new ConcurrentWriteError(`the service's row ${conflict.key} appeared meanwhile; run the command again`);
      }
    } else {
      await stores.service.deleteMany(service, [conflict.key]);
    }

    const legacy = legacyAccess(context.pools.legacy, [stores], context.markOrigin);
    // Legacy commits first (when the work resolves), then the service: a failure in between leaves the conflict
    // open, and running the command again re-applies the same images.
    const resolved = await legacy.writeBack(context.origins.service, async (tx) => {
      const { present } = await tx.lockAndRead(conflict.aggregate, [conflict.key]);
      const changes = legacyDocument
        ? { writes: [legacyDocument], absent: new Set(present.has(conflict.key) ? [] : [legacy.keyOf(conflict.aggregate, legacyDocument)]), keep: new Map(), deletes: [] }
        : { writes: [], absent: new Set<string>(), keep: new Map(), deletes: [conflict.key] };
      if ((await tx.write(conflict.aggregate, changes, false)).appeared) throw new ConcurrentWriteError(`legacy's row ${conflict.key} appeared meanwhile; run the command again`);
      const legacyHash = legacyDocument ? stores.service.partsHash(mapping.toService(legacyDocument)) : null;
      await saveSyncState(service, conflict.aggregate, new Map([[conflict.key, { legacyHash, serviceVersion }]]));
      const resolution = `kept ${keep} (strangler conflicts apply)`;
      return service.query<Row>(`update ${CONFLICTS_TABLE} set resolved_at = now(), resolution = $2 where id = $1 returning ${COLUMNS}`, [id, resolution]);
    });
    await service.query('commit');
    return toConflict(resolved.rows[0]!);
  } catch (error) {
    await service.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    service.release();
  }
}
