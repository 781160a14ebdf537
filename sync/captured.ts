import type { ClientBase, Pool } from 'pg';
import type { Counter } from 'prom-client';
import { markOrigin } from '../outbox';
import { SyncError, UnsyncableEventError } from './errors';
import type { LegacyAccess } from './legacy-access';
import type { AggregateMapping, Mapping } from './options';
import type { MigrationStores } from './side';
import {
  decideFromLegacy,
  decideFromService,
  lockSyncState,
  lockSyncStateStatement,
  recordConflicts,
  saveSyncStateStatements,
  syncStates,
  type ConflictRecord,
  type SyncDecision,
  type SyncState,
} from './state';
import { isUniqueViolation, runStatements, TOAST_PLACEHOLDER, unchangedJoined, withPooledClient, type SideStore } from './store';
import type { Document } from './translate';

/** What one key of a chunk came to: the `outcome` label of strangler_sync_events_total. */
export type KeyOutcome = 'applied' | 'stale' | 'conflict';

/** Marks a legacy transaction as the sync's write-back, so the capture tags its changes with `origin` (no echo). */
export type MarkOrigin = (client: ClientBase, origin: string) => Promise<void>;

/** The capture relay's markOrigin: `pg_logical_emit_message(true, 'strangler.origin', origin)` in the caller's transaction. */
export const emitOriginMessage: MarkOrigin = (client, origin) => markOrigin(client, origin);

/** A concurrent writer created a row the sync found absent a moment before: retried, and decided again. */
export class ConcurrentWriteError extends SyncError {
  constructor(message: string, cause?: unknown) {
    super('SFG_SYNC_CONCURRENT_WRITE', message, { retriable: true, cause });
  }
}

/** A document about to be written holds Debezium's TOAST placeholder: writing it would destroy the stored value. */
export class PlaceholderValueError extends SyncError {
  constructor(message: string) {
    super('SFG_SYNC_TOAST_PLACEHOLDER', message);
  }
}

/** Refuses a document holding `__debezium_unavailable_value` anywhere (joined rows included), naming the field. */
export function assertNoPlaceholder(document: Document, what: string): void {
  const visit = (value: unknown, path: string): void => {
    if (value === TOAST_PLACEHOLDER) {
      throw new PlaceholderValueError(`${what}: field '${path}' holds Debezium's TOAST placeholder ${TOAST_PLACEHOLDER}; it is never written (the stored value would be lost)`);
    }
    if (Array.isArray(value)) value.forEach((item, index) => visit(item, `${path}[${index}]`));
    else if (value && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) {
      for (const [field, inner] of Object.entries(value)) visit(inner, path ? `${path}.${field}` : field);
    }
  };
  visit(document, '');
}

// ---------------------------------------------------------------------------------------------------------------
// Captured records: topics, keys

/** One table of a captured aggregate, as its topic names it: which aggregate, and the column holding its key. */
export interface CapturedTable {
  aggregate: string;
  /** `schema.table` as the capture names it (unqualified mapping tables are in `public`). */
  table: string;
  role: 'main' | 'joined';
  keyColumn: string;
  /** The key column's live SQL type (decides how a record's key value is read). */
  keyType: string;
}

/** `schema.table` of a mapping table name (unqualified: `public`), folded to lower case as unquoted SQL does. */
export function qualifiedTableName(name: string): string {
  const parts = name.toLowerCase().split('.');
  return parts.length === 1 ? `public.${parts[0]}` : parts.join('.');
}

/** The topic a capture relay (or Debezium) writes a table's changes to: `<topicPrefix>.<schema>.<table>`. */
export function capturedTopic(topicPrefix: string, table: string): string {
  return `${topicPrefix}.${qualifiedTableName(table)}`;
}

/**
 * Every captured table of the given aggregates by topic (a table in several aggregates routes to each). `nameOf`:
 * a mapping table's name as the capture gives it (LegacyAccess.capturedName; default Postgres' `schema.table`).
 */
export function capturedRoutes(mapping: Mapping, stores: Iterable<MigrationStores>, nameOf: (table: string) => string = qualifiedTableName): Map<string, CapturedTable[]> {
  const routes = new Map<string, CapturedTable[]>();
  const prefix = mapping.capture?.topicPrefix;
  if (!prefix) return routes;
  const add = (table: CapturedTable) => {
    const topic = `${prefix}.${table.table}`;
    routes.set(topic, [...(routes.get(topic) ?? []), table]);
  };
  for (const { mapping: aggregate, legacy } of stores) {
    if (!aggregate.legacy.captured) continue;
    const side = aggregate.legacy;
    add({ aggregate: aggregate.aggregateType, table: nameOf(side.table), role: 'main', keyColumn: side.keyColumn, keyType: legacy.sqlTypeOf(side.table, side.keyColumn) ?? 'text' });
    for (const joined of side.joined) {
      add({ aggregate: aggregate.aggregateType, table: nameOf(joined.table), role: 'joined', keyColumn: joined.keyColumn, keyType: legacy.sqlTypeOf(joined.table, joined.keyColumn) ?? 'text' });
    }
  }
  return routes;
}

const PLAIN_DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** Debezium's `decimal.handling.mode=precise` without schemas: the unscaled value as big-endian two's complement, base64. */
function decodePreciseDecimal(base64: string, scale: number): string {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0) throw new Error('empty decimal');
  let unscaled = 0n;
  for (const byte of bytes) unscaled = (unscaled << 8n) | BigInt(byte);
  if (bytes[0]! & 0x80) unscaled -= 1n << BigInt(bytes.length * 8);
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

/**
 * A key column's value as a record carries it -> the text Postgres reads it from (cast to the column's type in SQL).
 * Integers, text, uuid and booleans come as they are; numeric keys in any of Debezium's decimal modes (`precise`:
 * base64 with the column's scale, or {scale, value} for unconstrained numeric; `string`; `double`). Other encoded
 * types (temporal keys as epoch numbers) are refused with the column's type named. Undefined: no value here (null,
 * or a field the record does not carry).
 */
export function keyTextOf(value: unknown, keyType: string): string | undefined {
  if (value === null || value === undefined || value === TOAST_PLACEHOLDER) return undefined;
  const numeric = /^(numeric|decimal)\b/.test(keyType);
  if (typeof value === 'string') {
    if (!numeric || PLAIN_DECIMAL.test(value)) return value;
    const scale = Number(/\(\s*\d+\s*,\s*(\d+)\s*\)/.exec(keyType)?.[1] ?? 0);
    return decodePreciseDecimal(value, scale);
  }
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    if (typeof value === 'number' && /^(date|time|timestamp|interval)/.test(keyType)) {
      throw new UnsyncableEventError(`a ${keyType} key arrives as an epoch number (${value}); temporal keys are not supported by the captured sync`);
    }
    return String(value);
  }
  if (numeric && typeof value === 'object' && typeof (value as { value?: unknown }).value === 'string' && typeof (value as { scale?: unknown }).scale === 'number') {
    return decodePreciseDecimal((value as { value: string }).value, (value as { scale: number }).scale);
  }
  throw new UnsyncableEventError(`a ${keyType} key value ${JSON.stringify(value)} cannot be read as a key`);
}

/**
 * The aggregate keys a captured row change names: the key column's value in `after` and in `before` (an update that
 * moved a joined row to another aggregate names both, when the table logs full rows). Tombstones name none.
 */
export function aggregateKeysOf(envelope: unknown, table: Pick<CapturedTable, 'keyColumn' | 'keyType' | 'table'>): string[] {
  if (envelope === null || envelope === undefined) return [];
  if (typeof envelope !== 'object' || Array.isArray(envelope)) throw new UnsyncableEventError(`${table.table}: the record's value is not a change event envelope`);
  const { before, after } = envelope as { before?: unknown; after?: unknown };
  const keys: string[] = [];
  for (const image of [after, before]) {
    if (!image || typeof image !== 'object') continue;
    const text = keyTextOf((image as Record<string, unknown>)[table.keyColumn], table.keyType);
    if (text !== undefined && !keys.includes(text)) keys.push(text);
  }
  if (keys.length === 0 && (after || before)) {
    throw new UnsyncableEventError(`${table.table}: the change carries no value of ${table.keyColumn} in before or after (a delete names only the replica identity's columns)`);
  }
  return keys;
}

/** Key types whose JSON value is already the text Postgres prints for them; others are canonicalised by a cast. */
const CANONICAL_KEY_TYPES = /^(smallint|integer|bigint|text|character varying)(\(\d+\))?$/;
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** `keys` (deduplicated) in the form Postgres prints them for the column type: the one form the sync state and reads use. */
export async function canonicalKeys(queryable: Pick<ClientBase, 'query'>, keys: Iterable<string>, keyType: string): Promise<Map<string, string>> {
  const unique = [...new Set(keys)];
  if (CANONICAL_KEY_TYPES.test(keyType) || unique.length === 0) return new Map(unique.map((key) => [key, key]));
  if (keyType === 'uuid' && unique.every((key) => CANONICAL_UUID.test(key.toLowerCase()))) return new Map(unique.map((key) => [key, key.toLowerCase()]));
  const { rows } = await queryable.query<{ canonical: string }>(`select k::${keyType}::text as canonical from unnest($1::text[]) with ordinality as u(k, n) order by n`, [unique]);
  return new Map(unique.map((key, index) => [key, rows[index]!.canonical]));
}

// ---------------------------------------------------------------------------------------------------------------
// Appliers

export interface Origins {
  legacy: string;
  service: string;
}

/** One captured aggregate's two stores and translations, and how its documents compare. */
class CapturedAggregate {
  readonly name: string;
  readonly legacyOwns: boolean;

  constructor(
    readonly stores: MigrationStores,
    origins: Origins,
  ) {
    this.name = stores.mapping.aggregateType;
    this.legacyOwns = stores.mapping.ownerOrigin === origins.legacy;
  }

  get mapping(): AggregateMapping {
    return this.stores.mapping;
  }

  /** The state's hash of a legacy document, in the service's shape, part by part (null: no document). */
  legacyHash(document: Document | undefined): string | null {
    return document ? this.stores.service.partsHash(this.mapping.toService(document)) : null;
  }

  serviceHash(document: Document | undefined): string | null {
    return document ? this.stores.service.partsHash(document) : null;
  }
}

export interface CapturedApplierDeps {
  /** Legacy's database: read-through reads it; write-backs write it (legacyAccess). */
  legacy: LegacyAccess;
  /** strangler_sync_conflicts_total; none: not counted. */
  conflicts?: Counter<'aggregatetype' | 'kind'>;
}

/**
 * The sync of aggregates whose legacy side is captured, in both directions, with the sync state and conflicts in
 * the service database. Every method works in the caller's service transaction (the inbox's), so the inbox rows, the
 * state and the service's writes commit together.
 */
export class CapturedSync {
  private readonly aggregates = new Map<string, CapturedAggregate>();

  constructor(
    /** The origin names: legacy's is recorded on the service's rows, the service's marks the write-backs. */
    readonly origins: Origins,
    stores: Iterable<MigrationStores>,
    private readonly deps: CapturedApplierDeps,
  ) {
    for (const entry of stores) if (entry.mapping.legacy.captured) this.aggregates.set(entry.mapping.aggregateType, new CapturedAggregate(entry, origins));
  }

  has(aggregate: string): boolean {
    return this.aggregates.has(aggregate);
  }

  private aggregate(name: string): CapturedAggregate {
    const found = this.aggregates.get(name);
    if (!found) throw new UnsyncableEventError(`aggregate '${name}' has no captured legacy side in the mapping`);
    return found;
  }

  /**
   * Legacy -> service, read-through: brings the service's copy of each of `keys` (keys as the legacy key column
   * prints them) up to legacy's current document, under the keys' sync state locks. Legacy is read in one snapshot
   * (all its tables), so a document is never torn between two legacy commits. Answers each key's outcome.
   */
  async applyFromLegacy(
    client: ClientBase,
    aggregateName: string,
    keys: readonly string[],
    options: { backfill?: boolean; visibleTransactions?: readonly number[] } = {},
  ): Promise<Map<string, KeyOutcome>> {
    const aggregate = this.aggregate(aggregateName);
    const { service } = aggregate.stores;
    const outcomes = new Map<string, KeyOutcome>();
    if (keys.length === 0) return outcomes;
    // One round trip: the state rows (created and locked), then the service's rows (locked), in that order.
    const [stateRows, serviceRows] = await runStatements(client, [lockSyncStateStatement(aggregate.name, keys), service.lockManyStatement(keys)]);
    const states = syncStates(stateRows!.rows, keys);
    const versions = service.lockedRows(serviceRows!.rows);
    const legacyDocuments = await this.deps.legacy.readSnapshot(aggregate.name, keys, { transactions: options.visibleTransactions });
    const legacyHashes = new Map(keys.map((key) => [key, aggregate.legacyHash(legacyDocuments.get(key))]));
    // The service's content is read only where it moved since the agreed point (or was never agreed).
    const moved = new Set(
      keys.filter((key) => {
        const state = states.get(key)!;
        if (state.known && legacyHashes.get(key) === state.legacyHash) return false;
        const version = versions.get(key)?.version ?? null;
        return state.known ? version !== state.serviceVersion : version !== null;
      }),
    );
    const serviceDocuments = moved.size ? await service.readMany(client, [...moved]) : new Map<string, Document>();

    const writes: Document[] = [];
    const absent = new Set<string>();
    const keep = new Map<string, Set<number>>();
    const deletes: string[] = [];
    const conflicts: ConflictRecord[] = [];
    const saved = new Map<string, { legacyHash: string | null; serviceVersion: number | null }>();
    for (const key of keys) {
      const stored = versions.get(key);
      const decision = decideFromLegacy({
        state: states.get(key)!,
        legacyHash: legacyHashes.get(key)!,
        serviceVersion: stored ? stored.version : null,
        serviceHash: moved.has(key) ? aggregate.serviceHash(serviceDocuments.get(key)) : undefined,
        legacyOwns: aggregate.legacyOwns,
        backfill: options.backfill,
      });
      outcomes.set(key, decision.outcome);
      if (decision.state) saved.set(key, decision.state);
      if (decision.action === 'write') {
        const document = aggregate.mapping.toService(legacyDocuments.get(key)!);
        document[service.mapping.versionField!] = decision.state!.serviceVersion;
        assertNoPlaceholder(document, `${aggregate.name} ${key} -> service`);
        writes.push(document);
        if (!stored) absent.add(service.keyOf(document));
        // The service has not moved since the agreed point, so it holds the agreed content: joined tables whose
        // part is unchanged stay as they are (a hot order's hundred lines are not rewritten for a new status).
        else if (!moved.has(key)) keep.set(service.keyOf(document), unchangedJoined(states.get(key)!.legacyHash, legacyHashes.get(key)!));
      } else if (decision.action === 'delete') {
        deletes.push(key);
      }
      if (decision.conflict) conflicts.push(conflictOf(aggregate.name, key, decision, legacyDocuments.get(key), serviceDocuments.get(key)));
    }
    // One round trip: the writes, the deletes and the new state.
    const inline = service.writesInline ? service.writeStatements(writes, this.origins.legacy, absent, keep) : [];
    if (!service.writesInline && !(await service.writeMany(client, writes, this.origins.legacy, absent, keep))) throw this.appeared(aggregate.name, 'service');
    await runStatements(client, [...inline, ...service.deleteStatements(deletes), ...saveSyncStateStatements(aggregate.name, saved)]).catch((error: unknown) => {
      throw isUniqueViolation(error) ? this.appeared(aggregate.name, 'service', error) : error;
    });
    await this.recordConflicts(client, conflicts);
    return outcomes;
  }

  private appeared(aggregate: string, side: 'service' | 'legacy', cause?: unknown): ConcurrentWriteError {
    const detail = (cause as { detail?: string } | undefined)?.detail;
    return new ConcurrentWriteError(`${aggregate}: a ${side} row appeared while the sync wrote the other side's change${detail ? ` (${detail})` : ''}; deciding again`, cause);
  }

  /**
   * Service -> captured legacy: writes the service's documents (or deletes) into legacy's tables through the
   * mapping, in one legacy transaction marked with the service's origin (the capture tags its changes, so the other
   * direction skips them: no echo). Legacy commits first, then the caller's service transaction (inbox + state): a
   * crash in between re-applies the same documents, which legacy then already holds (stale, and marked again).
   * `events` are per aggregate key: the newest version of each.
   */
  async applyFromService(client: ClientBase, events: ReadonlyArray<{ aggregate: string; key: string; version: number; document: Document | null }>): Promise<Map<string, KeyOutcome>> {
    const outcomes = new Map<string, KeyOutcome>();
    const byAggregate = new Map<string, Map<string, { version: number; document: Document | null }>>();
    for (const event of events) {
      this.aggregate(event.aggregate);
      const keys = byAggregate.get(event.aggregate) ?? new Map();
      const known = keys.get(event.key);
      if (!known || known.version < event.version) keys.set(event.key, { version: event.version, document: event.document });
      byAggregate.set(event.aggregate, keys);
    }
    const work: Array<{ aggregate: CapturedAggregate; states: Map<string, SyncState>; keys: Map<string, { version: number; document: Document | null }> }> = [];
    for (const name of [...byAggregate.keys()].sort()) {
      const aggregate = this.aggregate(name);
      const keys = byAggregate.get(name)!;
      const states = await lockSyncState(client, name, [...keys.keys()]);
      // At or below the agreed version: stale without reading legacy.
      for (const [key, event] of keys) {
        const state = states.get(key)!;
        if (state.known && state.serviceVersion !== null && event.version <= state.serviceVersion) {
          outcomes.set(`${name}\u0000${key}`, 'stale');
          keys.delete(key);
        }
      }
      if (keys.size) work.push({ aggregate, states, keys });
    }
    if (work.length === 0) return outcomes;

    const conflicts: ConflictRecord[] = [];
    const saved: string[] = [];
    const legacy = this.deps.legacy;
    await legacy.writeBack(this.origins.service, async (tx) => {
      for (const [index, { aggregate, states, keys }] of work.entries()) {
        const { present, current } = await tx.lockAndRead(aggregate.name, [...keys.keys()]);
        const writes: Document[] = [];
        const absent = new Set<string>();
        const keep = new Map<string, Set<number>>();
        const deletes: string[] = [];
        const agreed = new Map<string, { legacyHash: string | null; serviceVersion: number | null }>();
        for (const [key, event] of keys) {
          const target = event.document ? aggregate.mapping.toLegacy(event.document) : undefined;
          const decision = decideFromService({
            state: states.get(key)!,
            version: event.version,
            targetHash: aggregate.legacyHash(target),
            legacyHash: aggregate.legacyHash(current.get(key)),
            legacyOwns: aggregate.legacyOwns,
          });
          outcomes.set(`${aggregate.name}\u0000${key}`, decision.outcome);
          if (decision.state) agreed.set(key, decision.state);
          if (decision.action === 'write') {
            assertNoPlaceholder(target!, `${aggregate.name} ${key} -> legacy`);
            writes.push(target!);
            if (!present.has(key)) absent.add(legacy.keyOf(aggregate.name, target!));
            // Legacy's joined tables that already hold what the service's document says are left alone.
            else if (current.has(key)) keep.set(legacy.keyOf(aggregate.name, target!), legacy.unchangedParts(aggregate.name, current.get(key)!, target!));
          } else if (decision.action === 'delete') {
            deletes.push(key);
          }
          if (decision.conflict) conflicts.push(conflictOf(aggregate.name, key, decision, current.get(key), event.document ?? undefined));
        }
        const written = await tx.write(aggregate.name, { writes, absent, keep, deletes }, index === work.length - 1);
        if (written.appeared) throw this.appeared(aggregate.name, 'legacy', written.cause);
        saved.push(...saveSyncStateStatements(aggregate.name, agreed));
      }
    });
    await runStatements(client, saved);
    await this.recordConflicts(client, conflicts);
    return outcomes;
  }

  private async recordConflicts(client: ClientBase, conflicts: ConflictRecord[]): Promise<void> {
    if (conflicts.length === 0) return;
    await recordConflicts(client, conflicts);
    for (const conflict of conflicts) this.deps.conflicts?.inc({ aggregatetype: conflict.aggregate, kind: conflict.kind });
  }
}

function conflictOf(aggregate: string, key: string, decision: SyncDecision, legacyImage: Document | undefined, serviceImage: Document | undefined): ConflictRecord {
  return { aggregate, key, kind: decision.conflict!.kind, kept: decision.conflict!.kept, legacyImage: legacyImage ?? null, serviceImage: serviceImage ?? null };
}

/** Reads documents of `keys` in one snapshot (repeatable read): main and joined tables as of one instant, in one round trip. */
export function readSnapshot(pool: Pool, store: SideStore, keys: readonly string[], options: { visibleTransactions?: readonly number[] } = {}): Promise<Map<string, Document>> {
  return withPooledClient(pool, (client) => {
    const transactions = options.visibleTransactions ?? [];
    if (transactions.length === 0 || keys.length === 0) return store.readConsistent(client, keys);
    return readOnceVisible(client, store, keys, transactions);
  });
}

/** How long a read waits for the transactions of the changes it answers to become visible before it gives up (retried). */
const VISIBILITY_DEADLINE_MS = 30_000;

/**
 * Reads in a snapshot that sees every one of `transactions` (the 32-bit ids of the captured changes' transactions).
 * A change can reach the sync before its transaction is visible to other sessions: Postgres writes and flushes the
 * commit record, which logical decoding sends at once, and only then marks the transaction done for new snapshots.
 * On a loaded machine that gap can outlast the trip through Kafka, and a read-through in it would take the previous
 * content for the change's (and call the change stale). So the read runs in one repeatable-read snapshot together
 * with a check that it sees those transactions, and is taken again until it does.
 */
async function readOnceVisible(client: ClientBase, store: SideStore, keys: readonly string[], transactions: readonly number[]): Promise<Map<string, Document>> {
  const ids = [...new Set(transactions)].filter((id) => Number.isSafeInteger(id) && id >= 0 && id < 2 ** 32);
  // The 32-bit id in the epoch of the snapshot's xmax (or the one before, for an id above it): a 64-bit txid.
  const invisible = `select count(*)::int as invisible
      from unnest('{${ids.join(',')}}'::bigint[]) as t(xid), (select pg_current_snapshot() as snap) s
     where not pg_visible_in_snapshot(
       (greatest((pg_snapshot_xmax(snap)::text::bigint >> 32) - case when t.xid > (pg_snapshot_xmax(snap)::text::bigint & 4294967295) then 1 else 0 end, 0) << 32 | t.xid)::text::xid8,
       snap)`;
  const deadline = Date.now() + VISIBILITY_DEADLINE_MS;
  for (let wait = 1; ; wait = Math.min(wait * 2, 100)) {
    const results = await runStatements(client, ['begin isolation level repeatable read read only', invisible, ...store.readStatements(keys), 'commit']);
    if ((results[1]!.rows[0] as { invisible: number }).invisible === 0) return store.documentsFrom(results.slice(2, -1));
    if (Date.now() > deadline) {
      throw new SyncError('SFG_SYNC_CHANGE_NOT_VISIBLE', `transactions ${ids.join(', ')} of captured changes are still not visible after ${VISIBILITY_DEADLINE_MS / 1000} s`, { retriable: true });
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
