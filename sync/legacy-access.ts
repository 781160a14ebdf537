import type { ClientBase, Pool } from 'pg';
import { canonicalKeys, emitOriginMessage, qualifiedTableName, readSnapshot, type MarkOrigin } from './captured';
import { SyncError } from './errors';
import { isMySqlDuplicateKey, isMySqlLockFailure, MySqlDatabase, MySqlSideStore } from './mysql-store';
import type { MigrationStores } from './side';
import { isUniqueViolation, runStatements, SideStore, unchangedJoined, withPooledClient } from './store';
import type { Document } from './translate';

/** What a write-back came to: `appeared` when a row it found absent was inserted meanwhile (the transaction is given up). */
export type WriteBackOutcome = { appeared: false } | { appeared: true; cause?: unknown };

/** Legacy's documents of one aggregate to write back: `absent` keys are plainly inserted, `keep` names joined tables left alone. */
export interface LegacyChanges {
  writes: Document[];
  absent: ReadonlySet<string>;
  keep: ReadonlyMap<string, ReadonlySet<number>>;
  deletes: string[];
}

/** One write-back transaction on legacy, marked with its origin. */
export interface LegacyWriteBack {
  /** Locks the main rows of `keys` and reads their documents: the keys that have a row, and the current documents. */
  lockAndRead(aggregate: string, keys: readonly string[]): Promise<{ present: ReadonlySet<string>; current: Map<string, Document> }>;
  /** Writes and deletes. `last`: nothing follows in the transaction (the commit may travel with them). */
  write(aggregate: string, changes: LegacyChanges, last: boolean): Promise<WriteBackOutcome>;
}

/**
 * How the captured sync reaches a captured legacy database, whatever engine holds it: the names its capture gives
 * tables, its keys' canonical text, a read of documents as of one commit that sees the captured changes, and
 * write-back transactions the capture tags with their origin.
 */
export interface LegacyAccess {
  /** A mapping table as the capture's topics name it (`<schema>.<table>` in Postgres, `<database>.<table>` in MySQL). */
  capturedName(table: string): string;
  /** Keys (as records and events carry them) in the one form the sync state and reads use. */
  canonicalKeys(service: Pick<ClientBase, 'query'>, aggregate: string, keys: Iterable<string>): Promise<Map<string, string>>;
  keyOf(aggregate: string, document: Document): string;
  /** The joined tables (by index) that a write of `after` over `before` (legacy's shape) can leave alone. */
  unchangedParts(aggregate: string, before: Document, after: Document): Set<number>;
  /** Documents of `keys`, main and joined tables as of one commit, seeing the captured changes' transactions (`transactions`: their ids, where the capture gives them). */
  readSnapshot(aggregate: string, keys: readonly string[], visibility?: { transactions?: readonly number[] }): Promise<Map<string, Document>>;
  /** Runs `work` in one legacy transaction marked with `origin`: committed when it resolves, rolled back when it throws. */
  writeBack<T>(origin: string, work: (tx: LegacyWriteBack) => Promise<T>): Promise<T>;
}

/** The access to the legacy database of `stores` (all in the engine of `connection`); the markOrigin is Postgres'. */
export function legacyAccess(connection: Pool | MySqlDatabase, stores: Iterable<MigrationStores>, markOrigin: MarkOrigin = emitOriginMessage): LegacyAccess {
  const byAggregate = new Map([...stores].map((entry) => [entry.mapping.aggregateType, entry.legacy]));
  const mismatch = (engine: string) =>
    new SyncError('SFG_SYNC_DATABASE_MISMATCH', `the legacy stores were opened on ${engine}, not on the database given to the sync (${connection instanceof MySqlDatabase ? 'MySQL/MariaDB' : 'Postgres'})`);
  if (connection instanceof MySqlDatabase) {
    const mysqlStores = new Map<string, MySqlSideStore>();
    for (const [name, store] of byAggregate) {
      if (!(store instanceof MySqlSideStore)) throw mismatch('Postgres');
      mysqlStores.set(name, store);
    }
    return new MySqlLegacy(connection, mysqlStores);
  }
  const pgStores = new Map<string, SideStore>();
  for (const [name, store] of byAggregate) {
    if (!(store instanceof SideStore)) throw mismatch('MySQL/MariaDB');
    pgStores.set(name, store);
  }
  return new PostgresLegacy(connection, pgStores, markOrigin);
}

function storeOf<S>(stores: Map<string, S>, aggregate: string): S {
  const store = stores.get(aggregate);
  if (!store) throw new SyncError('SFG_SYNC_UNKNOWN_AGGREGATE', `aggregate '${aggregate}' has no captured legacy side here`);
  return store;
}

class PostgresLegacy implements LegacyAccess {
  constructor(
    private readonly pool: Pool,
    private readonly stores: Map<string, SideStore>,
    private readonly markOrigin: MarkOrigin,
  ) {}

  capturedName(table: string): string {
    return qualifiedTableName(table);
  }

  canonicalKeys(service: Pick<ClientBase, 'query'>, aggregate: string, keys: Iterable<string>): Promise<Map<string, string>> {
    const store = storeOf(this.stores, aggregate);
    return canonicalKeys(service, keys, store.sqlTypeOf(store.mapping.table, store.mapping.keyColumn)!);
  }

  keyOf(aggregate: string, document: Document): string {
    return storeOf(this.stores, aggregate).keyOf(document);
  }

  unchangedParts(aggregate: string, before: Document, after: Document): Set<number> {
    const store = storeOf(this.stores, aggregate);
    return unchangedJoined(store.partsHash(before), store.partsHash(after));
  }

  readSnapshot(aggregate: string, keys: readonly string[], visibility: { transactions?: readonly number[] } = {}): Promise<Map<string, Document>> {
    return readSnapshot(this.pool, storeOf(this.stores, aggregate), keys, { visibleTransactions: visibility.transactions });
  }

  writeBack<T>(origin: string, work: (tx: LegacyWriteBack) => Promise<T>): Promise<T> {
    const stores = this.stores;
    return withPooledClient(this.pool, async (client) => {
      let committed = false;
      await client.query('begin');
      await this.markOrigin(client, origin);
      const result = await work({
        async lockAndRead(aggregate, keys) {
          const store = storeOf(stores, aggregate);
          // One round trip: lock the main rows, then read the documents (the transaction sees its own locks' rows).
          const [locked, ...read] = await runStatements(client, [store.lockManyStatement(keys), ...store.readStatements(keys)]);
          return { present: new Set(store.lockedRows(locked!.rows).keys()), current: store.documentsFrom(read) };
        },
        async write(aggregate, { writes, absent, keep, deletes }, last) {
          const store = storeOf(stores, aggregate);
          // One round trip: the writes, the deletes and, when last, the commit.
          const inline = store.writesInline ? store.writeStatements(writes, origin, absent, keep) : [];
          if (!store.writesInline && !(await store.writeMany(client, writes, origin, absent, keep))) return { appeared: true };
          try {
            await runStatements(client, [...inline, ...store.deleteStatements(deletes), ...(last ? ['commit'] : [])]);
          } catch (error) {
            if (isUniqueViolation(error)) return { appeared: true, cause: error };
            throw error;
          }
          committed = last;
          return { appeared: false };
        },
      });
      if (!committed) await client.query('commit');
      return result;
    });
  }
}

/** How often a read-through whose locking read lost a deadlock (or timed out waiting) is taken again before failing (retriable). */
const LOCKED_READ_ATTEMPTS = 10;
/** The longest pause between two of those reads; the pause grows from a few ms, with jitter, so two colliders part. */
const LOCKED_READ_MAX_PAUSE_MS = 250;

class MySqlLegacy implements LegacyAccess {
  constructor(
    private readonly database: MySqlDatabase,
    private readonly stores: Map<string, MySqlSideStore>,
  ) {}

  capturedName(table: string): string {
    if (!table.includes('.') && !this.database.database) {
      throw new SyncError('SFG_SYNC_DATABASE_MISSING', `legacy table '${table}' is unqualified and the legacy URL names no database: add it to the URL (mysql://host/<database>) or write <database>.${table}`);
    }
    // As the binlog relay (and Debezium) name the topic: characters Kafka refuses become '_'.
    return (table.includes('.') ? table : `${this.database.database}.${table}`).replace(/[^a-zA-Z0-9._-]/g, '_');
  }

  /** Integer keys as their decimal text; text keys as they are. */
  async canonicalKeys(_service: Pick<ClientBase, 'query'>, aggregate: string, keys: Iterable<string>): Promise<Map<string, string>> {
    const integer = storeOf(this.stores, aggregate).keyKind === 'integer';
    return new Map([...new Set(keys)].map((key) => [key, integer && /^[-+]?\d+$/.test(key) ? BigInt(key).toString() : key]));
  }

  keyOf(aggregate: string, document: Document): string {
    return storeOf(this.stores, aggregate).keyOf(document);
  }

  unchangedParts(aggregate: string, before: Document, after: Document): Set<number> {
    return storeOf(this.stores, aggregate).unchangedJoined(before, after);
  }

  /**
   * Locking reads (`lock in share mode`) of the main and joined tables in one transaction. The binlog can carry a
   * commit to the relay (and so to the sync) before InnoDB makes it visible to other sessions; until then the
   * committing transaction still holds its row locks, so a locking read waits for it and then reads the latest
   * committed rows, which a consistent snapshot taken in that gap would not see (and MySQL has no way to ask whether
   * a snapshot sees a given transaction). The share locks (next-key locks, repeatable read) held until the end keep
   * every writer out of the rows read, so the document is never torn between two commits. A deadlock with a writer
   * (one of them is rolled back: ours, or theirs, which the monolith sees as a deadlock error) is taken again.
   */
  async readSnapshot(aggregate: string, keys: readonly string[]): Promise<Map<string, Document>> {
    const store = storeOf(this.stores, aggregate);
    if (keys.length === 0) return new Map();
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.database.transaction((session) => store.readMany(session, keys, { lock: 'share' }), { isolation: 'repeatable read' });
      } catch (error) {
        if (!isMySqlLockFailure(error)) throw error;
        if (attempt >= LOCKED_READ_ATTEMPTS) throw new SyncError('SFG_SYNC_LEGACY_LOCKED', `${aggregate}: legacy's rows stayed locked by writers through ${attempt} reads (${(error as Error).message})`, { retriable: true, cause: error });
        const pauseMs = Math.min(LOCKED_READ_MAX_PAUSE_MS, 2 ** attempt * 2) * (0.5 + Math.random() / 2);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }
  }

  writeBack<T>(origin: string, work: (tx: LegacyWriteBack) => Promise<T>): Promise<T> {
    const marked = { markOrigin: origin };
    return this.database.transaction(
      (session) =>
        work({
          lockAndRead: async (aggregate, keys) => {
            const store = storeOf(this.stores, aggregate);
            const present = await store.lockMany(session, keys, marked);
            return { present, current: await store.readMany(session, keys, { lock: 'update' }) };
          },
          write: async (aggregate, { writes, absent, keep, deletes }) => {
            const store = storeOf(this.stores, aggregate);
            try {
              if (!(await store.writeMany(session, writes, origin, absent, keep, marked))) return { appeared: true };
            } catch (error) {
              if (isMySqlDuplicateKey(error)) return { appeared: true, cause: error };
              throw error;
            }
            await store.deleteMany(session, deletes, marked);
            return { appeared: false };
          },
        }),
      { marked: true },
    );
  }
}
