import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { findAggregate, saveAggregate, type Product } from '../../extracted/common/aggregates';
import { withTransaction } from '../../extracted/common/db';
import { migrateShop } from '../../extracted/common/schema';
import { caseStudyMapping } from '../../extracted/common/mapping';
import { MappingApplier, UnsyncableEventError, type ReplicatedEvent } from '../../sync';
import { createTestDatabase, type TestDatabase } from '../helpers';

function product(version: number, name: string): Product {
  const now = new Date().toISOString();
  return { id: '', sku: `SKU-${randomUUID().slice(0, 8).toUpperCase()}`, name, priceCents: 100, currency: 'EUR', stock: 3, version, createdAt: now, updatedAt: now };
}

function event(payload: Product, origin: string): ReplicatedEvent {
  return { aggregateType: 'product', payload, headers: { origin, version: String(payload.version) } };
}

describe('applying replicated events (version rule, conflict rule, no outbox writes)', () => {
  let database: TestDatabase;
  /** The catalog service's applier and legacy's, both on one database here (the mapping is the identity). */
  let catalog: MappingApplier;
  let legacy: MappingApplier;
  const applyWith = (applier: MappingApplier, replicated: ReplicatedEvent) => withTransaction(database.pool, (client: PoolClient) => applier.apply(client, replicated));
  const apply = (replicated: ReplicatedEvent) => applyWith(catalog, replicated);
  const stored = async (id: string) => (await findAggregate(database.pool, 'product', id))!;

  beforeAll(async () => {
    database = await createTestDatabase('sfg_sync_apply');
    await migrateShop(database.pool);
    catalog = await MappingApplier.open(caseStudyMapping(), 'service', database.pool, { origin: 'catalog' });
    legacy = await MappingApplier.open(caseStudyMapping(), 'legacy', database.pool);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('applies new and newer versions, skips older and same-origin ties as stale, and never writes the outbox', async () => {
    const id = randomUUID();
    expect(await apply(event({ ...product(1, 'v1'), id }, 'legacy'))).toBe('applied');
    expect(await apply(event({ ...product(3, 'v3'), id }, 'legacy'))).toBe('applied');
    expect(await apply(event({ ...product(2, 'v2'), id }, 'legacy'))).toBe('stale');
    expect(await apply(event({ ...product(3, 'v3 again'), id }, 'legacy'))).toBe('stale');
    expect(await stored(id)).toMatchObject({ entity: { name: 'v3', version: 3 }, origin: 'legacy' });
    expect((await database.pool.query('select count(*)::int as n from outbox')).rows[0].n).toBe(0);
  });

  it('resolves a tie from different origins by the documented rule on both sides, counting it as a conflict', async () => {
    const id = randomUUID();
    // Each side wrote version 2 locally; then each receives the other's version 2.
    const legacySide = { ...product(2, 'renamed on legacy'), id };
    const catalogSide = { ...product(2, 'renamed on catalog'), id };
    await saveAggregate(database.pool, 'product', legacySide, 'legacy');
    expect(await applyWith(legacy, event(catalogSide, 'catalog'))).toBe('conflict');
    expect(await stored(id)).toMatchObject({ entity: { name: 'renamed on catalog' }, origin: 'catalog' });
    // The catalog side, holding its own write, receives legacy's: the owner keeps its state.
    await saveAggregate(database.pool, 'product', catalogSide, 'catalog');
    expect(await applyWith(catalog, event(legacySide, 'legacy'))).toBe('conflict');
    expect(await stored(id)).toMatchObject({ entity: { name: 'renamed on catalog' }, origin: 'catalog' });
  });

  it('rejects events it cannot apply as non-retriable', async () => {
    await expect(apply({ aggregateType: 'widget', payload: {}, headers: { origin: 'legacy' } })).rejects.toBeInstanceOf(UnsyncableEventError);
    await expect(apply({ aggregateType: 'product', payload: { id: randomUUID() }, headers: { origin: 'legacy' } })).rejects.toThrow('lacks an integer version');
    await expect(apply({ aggregateType: 'product', payload: { ...product(1, 'x'), id: randomUUID() }, headers: {} })).rejects.toThrow('no origin header');
    // Its own events come back on the shared topics: stale, the row untouched.
    expect(await apply(event({ ...product(9, 'echo'), id: randomUUID() }, 'catalog'))).toBe('stale');
  });
});
