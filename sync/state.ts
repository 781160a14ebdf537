import { escapeLiteral, type ClientBase } from 'pg';
import { inlined, runStatements, type Queryable } from './store';

/** Where two sides last agreed on each aggregate of a captured mapping (in the service database, never in legacy). */
export const SYNC_STATE_TABLE = 'strangler_sync_state';
/** Writes that lost to the other side's concurrent write, with both row images, until an operator settles them. */
export const CONFLICTS_TABLE = 'strangler_sync_conflicts';

/** Postgres 18's names for logical replication conflicts (pg_stat_subscription_stats), used for ours. */
export const CONFLICT_KINDS = ['insert_exists', 'update_origin_differs', 'update_exists', 'update_missing', 'delete_origin_differs', 'delete_missing'] as const;
export type ConflictKind = (typeof CONFLICT_KINDS)[number];

/**
 * One aggregate's sync state. `known` is false for a row just created (the two sides never agreed on this key);
 * `legacyHash` is the content hash of legacy's document at the agreed point (null: legacy had no row), and
 * `serviceVersion` the service's version then (null: the service had no row).
 */
export interface SyncState {
  known: boolean;
  legacyHash: string | null;
  serviceVersion: number | null;
}

const UNKNOWN: SyncState = { known: false, legacyHash: null, serviceVersion: null };

/** Creates the state and conflicts tables when missing (idempotent; concurrent callers wait for each other). */
export async function ensureSyncTables(pool: Queryable): Promise<void> {
  const client = 'release' in pool || !('connect' in pool) ? pool : await pool.connect();
  try {
    await client.query('begin');
    await client.query(`select pg_advisory_xact_lock(hashtext('strangler-fig sync tables'))`);
    await client.query(`create table if not exists ${SYNC_STATE_TABLE} (
      aggregate varchar(255) not null,
      key text not null,
      legacy_hash text,
      service_version bigint,
      updated_at timestamptz,
      primary key (aggregate, key)
    )`);
    await client.query(`create table if not exists ${CONFLICTS_TABLE} (
      id bigserial primary key,
      aggregate varchar(255) not null,
      key text not null,
      kind text not null check (kind in (${CONFLICT_KINDS.map((kind) => `'${kind}'`).join(', ')})),
      legacy_image jsonb,
      service_image jsonb,
      kept text not null check (kept in ('legacy', 'service')),
      detected_at timestamptz not null default now(),
      resolved_at timestamptz,
      resolution text
    )`);
    await client.query(`create index if not exists ${CONFLICTS_TABLE}_open on ${CONFLICTS_TABLE} (aggregate, detected_at) where resolved_at is null`);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    if (client !== pool) (client as { release(): void }).release();
  }
}

/**
 * The state rows of `keys`, created when missing and locked (in key order, so two transactions over overlapping
 * keys never deadlock) until the transaction ends: every decision about a key is taken under this lock.
 */
export async function lockSyncState(client: ClientBase, aggregate: string, keys: readonly string[]): Promise<Map<string, SyncState>> {
  if (keys.length === 0) return new Map();
  const [result] = await runStatements(client, [lockSyncStateStatement(aggregate, keys)]);
  return syncStates(result!.rows, keys);
}

/**
 * lockSyncState's statement, keys inlined (to send with others in one round trip): one upsert creates the missing
 * rows and locks them all (an upsert locks the row it finds), in one order everywhere.
 */
export function lockSyncStateStatement(aggregate: string, keys: readonly string[]): string {
  const sorted = [...new Set(keys)].sort();
  return inlined(
    `insert into ${SYNC_STATE_TABLE} as s (aggregate, key) select ${escapeLiteral(aggregate)}, unnest($1::text[])
     on conflict (aggregate, key) do update set aggregate = s.aggregate
     returning key, legacy_hash, service_version, updated_at`,
    [sorted],
  );
}

/** The rows of a lockSyncStateStatement, per key (a key without a row is unknown). */
export function syncStates(rows: ReadonlyArray<Record<string, unknown>>, keys: readonly string[]): Map<string, SyncState> {
  const states = new Map<string, SyncState>();
  for (const row of rows as Array<{ key: string; legacy_hash: string | null; service_version: string | null; updated_at: Date | null }>) {
    states.set(row.key, row.updated_at === null ? UNKNOWN : { known: true, legacyHash: row.legacy_hash, serviceVersion: row.service_version === null ? null : Number(row.service_version) });
  }
  for (const key of keys) if (!states.has(key)) states.set(key, UNKNOWN);
  return states;
}

/** Records the new agreed points (one statement). */
export async function saveSyncState(client: ClientBase, aggregate: string, updates: ReadonlyMap<string, { legacyHash: string | null; serviceVersion: number | null }>): Promise<void> {
  await runStatements(client, saveSyncStateStatements(aggregate, updates));
}

/** saveSyncState's statement, values inlined (none when there is nothing to save). */
export function saveSyncStateStatements(aggregate: string, updates: ReadonlyMap<string, { legacyHash: string | null; serviceVersion: number | null }>): string[] {
  if (updates.size === 0) return [];
  const keys: string[] = [];
  const hashes: Array<string | null> = [];
  const versions: Array<number | null> = [];
  for (const [key, state] of updates) {
    keys.push(key);
    hashes.push(state.legacyHash);
    versions.push(state.serviceVersion);
  }
  return [
    inlined(
      `insert into ${SYNC_STATE_TABLE} (aggregate, key, legacy_hash, service_version, updated_at)
       select ${escapeLiteral(aggregate)}, key, legacy_hash, service_version, now() from unnest($1::text[], $2::text[], $3::bigint[]) as u(key, legacy_hash, service_version)
       on conflict (aggregate, key) do update set legacy_hash = excluded.legacy_hash, service_version = excluded.service_version, updated_at = excluded.updated_at`,
      [keys, hashes, versions],
    ),
  ];
}

export interface ConflictRecord {
  aggregate: string;
  key: string;
  kind: ConflictKind;
  /** Legacy's document (legacy shape) at detection; null when legacy had no row. */
  legacyImage: unknown;
  /** The service's document (service shape, version included); null when the service had no row. */
  serviceImage: unknown;
  kept: 'legacy' | 'service';
}

/** Inserts conflicts (one statement); answers their ids in order. */
export async function recordConflicts(client: ClientBase, conflicts: readonly ConflictRecord[]): Promise<string[]> {
  if (conflicts.length === 0) return [];
  const { rows } = await client.query<{ id: string }>(
    `insert into ${CONFLICTS_TABLE} (aggregate, key, kind, legacy_image, service_image, kept)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::text[]) returning id::text`,
    [
      conflicts.map((conflict) => conflict.aggregate),
      conflicts.map((conflict) => conflict.key),
      conflicts.map((conflict) => conflict.kind),
      conflicts.map((conflict) => (conflict.legacyImage === null || conflict.legacyImage === undefined ? null : JSON.stringify(conflict.legacyImage))),
      conflicts.map((conflict) => (conflict.serviceImage === null || conflict.serviceImage === undefined ? null : JSON.stringify(conflict.serviceImage))),
      conflicts.map((conflict) => conflict.kept),
    ],
  );
  return rows.map((row) => row.id);
}

/** What a sync step does to the side it writes: nothing, write the document, or delete the aggregate. */
export type SyncAction = 'none' | 'write' | 'delete';

export interface SyncDecision {
  action: SyncAction;
  outcome: 'applied' | 'stale' | 'conflict';
  conflict?: { kind: ConflictKind; kept: 'legacy' | 'service' };
  /** The new agreed point, or undefined to leave the state as it is. */
  state?: { legacyHash: string | null; serviceVersion: number | null };
}

/**
 * Legacy -> service: legacy's document changed (a captured row change named the key) and is read as it is now.
 * - Legacy's content is what both sides agreed on: nothing to do (`stale`: an echo, a redelivery, a change to an
 *   unmapped column).
 * - Both sides hold the same content (or neither has a row): they agree now; the state records it.
 * - The service has not moved since the agreed point: legacy's document is written (version = current + 1), or the
 *   aggregate deleted when legacy's main row is gone.
 * - The service moved too (its own write is in flight towards legacy): a conflict. The owner's write is kept; the
 *   other is recorded. When the service wins, the state takes legacy's hash but keeps the service's old version, so
 *   the service's event still overwrites legacy when it arrives; when legacy wins, the service gets legacy's
 *   document and the state its new version, so the service's older event is stale when it arrives.
 * `backfill`: a key the sync never saw is copied over whatever the service holds (backfill's contract).
 */
export function decideFromLegacy(input: {
  state: SyncState;
  legacyHash: string | null;
  serviceVersion: number | null;
  /** Content hash of the service's current document (null: no row); only read when the service moved. */
  serviceHash?: string | null;
  legacyOwns: boolean;
  backfill?: boolean;
}): SyncDecision {
  const { state, legacyHash, serviceVersion } = input;
  if (state.known && legacyHash === state.legacyHash) return { action: 'none', outcome: 'stale' };
  const moved = state.known ? serviceVersion !== state.serviceVersion : serviceVersion !== null;
  if (moved && input.serviceHash === undefined) throw new Error('decideFromLegacy: the service moved; its content hash is needed');
  if (moved && input.serviceHash === legacyHash) return { action: 'none', outcome: 'stale', state: { legacyHash, serviceVersion } };
  const apply = (): SyncDecision =>
    legacyHash === null
      ? serviceVersion === null
        ? { action: 'none', outcome: 'stale', state: { legacyHash: null, serviceVersion: null } }
        : { action: 'delete', outcome: 'applied', state: { legacyHash: null, serviceVersion: null } }
      : { action: 'write', outcome: 'applied', state: { legacyHash, serviceVersion: (serviceVersion ?? 0) + 1 } };
  if (!moved || (input.backfill && !state.known)) return apply();
  const kind: ConflictKind =
    legacyHash === null ? 'delete_origin_differs' : serviceVersion === null ? 'update_missing' : state.known && state.legacyHash !== null ? 'update_origin_differs' : 'insert_exists';
  if (input.legacyOwns) return { ...apply(), outcome: 'conflict', conflict: { kind, kept: 'legacy' } };
  return { action: 'none', outcome: 'conflict', conflict: { kind, kept: 'service' }, state: { legacyHash, serviceVersion: state.serviceVersion } };
}

/**
 * Service -> legacy: a service event (a document at `version`, or a delete) is to be written into legacy's tables.
 * - At or below the version both sides agreed on: `stale`.
 * - Legacy already holds what the event brings (a re-apply after a crash between the two commits, or the same change
 *   on both sides): nothing to write; the state records the agreement.
 * - Legacy has not changed since the agreed point: the document is written (or the aggregate deleted).
 * - Legacy changed too (its change is in flight towards the service): a conflict, the owner's write kept. When the
 *   service wins, legacy gets the service's document and the state its hash, so legacy's change reads back as stale;
 *   when legacy wins, the state takes the service's version but keeps legacy's old hash, so legacy's change still
 *   reaches the service when it arrives.
 */
export function decideFromService(input: {
  state: SyncState;
  version: number;
  /** Content hash of the document the event would leave in legacy (null: a delete). */
  targetHash: string | null;
  /** Content hash of legacy's current document (null: no row). */
  legacyHash: string | null;
  legacyOwns: boolean;
}): SyncDecision {
  const { state, version, targetHash, legacyHash } = input;
  if (state.known && state.serviceVersion !== null && version <= state.serviceVersion) return { action: 'none', outcome: 'stale' };
  const agreed = { legacyHash: targetHash, serviceVersion: version };
  if (legacyHash === targetHash) return { action: 'none', outcome: 'stale', state: agreed };
  const apply = (): SyncDecision => ({ action: targetHash === null ? 'delete' : 'write', outcome: 'applied', state: agreed });
  const legacyChanged = state.known ? legacyHash !== state.legacyHash : legacyHash !== null;
  if (!legacyChanged) return apply();
  const kind: ConflictKind =
    targetHash === null ? 'delete_origin_differs' : legacyHash === null ? 'update_missing' : state.known && state.legacyHash !== null ? 'update_origin_differs' : 'insert_exists';
  if (!input.legacyOwns) return { ...apply(), outcome: 'conflict', conflict: { kind, kept: 'service' } };
  return { action: 'none', outcome: 'conflict', conflict: { kind, kept: 'legacy' }, state: { legacyHash: state.known ? state.legacyHash : null, serviceVersion: version } };
}
