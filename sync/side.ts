import type { MappingIssue } from './errors';
import { MySqlDatabase, MySqlSideStore } from './mysql-store';
import type { AggregateMapping, SideMapping } from './options';
import { SideStore, type Queryable } from './store';
import type { Document } from './translate';

/** One page of a side's documents in key order, each with its stored origin and its key as text. */
export type SidePage = Array<{ document: Document; origin: string | undefined; key: string }>;

/**
 * What backfill and verify read a side through, whatever engine holds it: its mapping, how its keys compare, its
 * row count, its documents in key order and by key. Values come as node-postgres answers them, so translation and
 * the one normalisation (SideStore.normalized, on the service's store) treat every engine alike.
 */
export interface SideReader {
  readonly mapping: SideMapping;
  readonly keyKind: 'integer' | 'text';
  count(): Promise<number>;
  pages(options: { chunkSize: number; afterKey?: string }): AsyncGenerator<SidePage>;
  readMany(keys: readonly string[]): Promise<Map<string, Document>>;
}

/** A side's store in either engine: a Postgres SideStore, or a MySQL/MariaDB one. */
export type AnySideStore = SideStore | MySqlSideStore;

/** A side's connection in either engine: a pg pool or client, or a MySqlDatabase. */
export type SideConnection = Queryable | MySqlDatabase;

/**
 * Both sides of one aggregate for backfill and verify: the legacy side in Postgres or MySQL/MariaDB, the service
 * in Postgres (AggregateStores is one).
 */
export interface MigrationStores {
  mapping: AggregateMapping;
  legacy: AnySideStore;
  service: SideStore;
}

/** A store bound to its connection; a store and a connection of different engines are refused. */
export function sideReader(store: AnySideStore, connection: SideConnection): SideReader {
  if (store instanceof MySqlSideStore) {
    if (!(connection instanceof MySqlDatabase)) throw new Error(`the ${store.mapping.side} side of ${store.mapping.table} is in MySQL: it needs a MySqlDatabase, not a Postgres pool`);
    return {
      mapping: store.mapping,
      keyKind: store.keyKind,
      count: () => store.count(connection),
      pages: (options) => store.pages(connection, options),
      readMany: (keys) => store.readMany(connection, keys),
    };
  }
  if (connection instanceof MySqlDatabase) throw new Error(`the ${store.mapping.side} side of ${store.mapping.table} is in Postgres: it needs a pg pool, not a MySqlDatabase`);
  return {
    mapping: store.mapping,
    keyKind: store.keyKind,
    count: () => store.count(connection),
    pages: (options) => store.pages(connection, options),
    readMany: (keys) => store.readMany(connection, keys),
  };
}

/** Opens one side in the engine of its connection (see SideStore.open and MySqlSideStore.open). */
export async function openSideStore(connection: SideConnection, mapping: SideMapping, at: string, issues: MappingIssue[]): Promise<AnySideStore | undefined> {
  return connection instanceof MySqlDatabase ? MySqlSideStore.open(connection, mapping, at, issues) : SideStore.open(connection, mapping, at, issues);
}
