import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { findAggregate, saveAggregate, type Product } from '../../legacy-monolith';
import type { CatalogProduct } from '../../extracted/catalog';
import { withTransaction } from '../../service-kit';
import { caseStudyMapping } from '../../case-study/mapping';
import { MappingApplier, UnsyncableEventError, type ReplicatedEvent } from '../../sync';
import { createTestDatabase, type TestDatabase } from '../helpers';
import { legacyProduct, migrateSide, saveCatalogProduct } from './shop-data';

function legacyEvent(product: Product): ReplicatedEvent {
  return { aggregateType: 'product', payload: product, headers: { origin: 'legacy', version: String(product.version) } };
}

/** The catalog's own event for a product: its model (title, list price in major units, stock on hand). */
function catalogEvent(product: Product): ReplicatedEvent {
  const payload: CatalogProduct = {
    id: product.id,
    sku: product.sku,
    title: product.name,
    listPrice: product.priceCents / 100,
    currency: product.currency,
    onHand: product.stock,
    version: product.version,
    createdAt: product.createdAt,
    updatedAt: product.updatedAt,
  };
  return { aggregateType: 'product', payload, headers: { origin: 'catalog', version: String(product.version) } };
}

describe('applying replicated product events between the monolith and the catalog service (translation, version rule, no outbox writes)', () => {
  let legacyDb: TestDatabase;
  let catalogDb: TestDatabase;
  let intoCatalog: MappingApplier;
  let intoLegacy: MappingApplier;
  const applyWith = (pool: Pool, applier: MappingApplier, replicated: ReplicatedEvent) => withTransaction(pool, (client: PoolClient) => applier.apply(client, replicated));
  const catalogRow = async (id: string) =>
    (await catalogDb.pool.query('select p.title, p.list_price, p.version, p.origin, s.on_hand from products p join stock_levels s on s.product_id = p.id where p.id = $1', [id])).rows[0];

  beforeAll(async () => {
    [legacyDb, catalogDb] = await Promise.all([createTestDatabase('sfg_apply_legacy'), createTestDatabase('sfg_apply_catalog')]);
    await Promise.all([migrateSide(legacyDb.pool, 'legacy'), migrateSide(catalogDb.pool, 'catalog')]);
    const product = [caseStudyMapping().aggregates.get('product')!];
    intoCatalog = await MappingApplier.open(caseStudyMapping(), 'service', catalogDb.pool, { origin: 'catalog', aggregates: product });
    intoLegacy = await MappingApplier.open(caseStudyMapping(), 'legacy', legacyDb.pool, { aggregates: product });
  });
  afterAll(async () => {
    await Promise.all([legacyDb?.drop(), catalogDb?.drop()]);
  });

  it('translates legacy products into the catalog model, keeps newer versions only, records price history, never writes the outbox', async () => {
    const v1 = legacyProduct({ name: 'v1', priceCents: 1999, stock: 3 });
    expect(await applyWith(catalogDb.pool, intoCatalog, legacyEvent(v1))).toBe('applied');
    expect(await catalogRow(v1.id)).toEqual({ title: 'v1', list_price: '19.99', version: 1, origin: 'legacy', on_hand: 3 });
    const v3 = { ...v1, name: 'v3', priceCents: 2499, stock: 1, version: 3 };
    expect(await applyWith(catalogDb.pool, intoCatalog, legacyEvent(v3))).toBe('applied');
    expect(await applyWith(catalogDb.pool, intoCatalog, legacyEvent({ ...v1, version: 2, name: 'v2' }))).toBe('stale');
    expect(await applyWith(catalogDb.pool, intoCatalog, legacyEvent({ ...v3, name: 'v3 again' }))).toBe('stale');
    expect(await catalogRow(v1.id)).toEqual({ title: 'v3', list_price: '24.99', version: 3, origin: 'legacy', on_hand: 1 });
    const history = await catalogDb.pool.query('select version, list_price from price_history where product_id = $1 order by version', [v1.id]);
    expect(history.rows).toEqual([{ version: 1, list_price: '19.99' }, { version: 3, list_price: '24.99' }]);
    expect((await catalogDb.pool.query('select count(*)::int as n from outbox')).rows[0].n).toBe(0);
  });

  it("translates the catalog's events back into the monolith's columns", async () => {
    const product = legacyProduct({ name: 'Renamed on catalog', priceCents: 1250, stock: 9, version: 4 });
    expect(await applyWith(legacyDb.pool, intoLegacy, catalogEvent(product))).toBe('applied');
    expect(await findAggregate(legacyDb.pool, 'product', product.id)).toEqual({ entity: product, origin: 'catalog' });
    expect((await legacyDb.pool.query('select count(*)::int as n from outbox')).rows[0].n).toBe(0);
  });

  it('resolves a tie from different origins by the owner-wins rule on both sides, counting it as a conflict', async () => {
    const base = legacyProduct({ version: 2 });
    await saveAggregate(legacyDb.pool, 'product', { ...base, name: 'renamed on legacy' }, 'legacy');
    expect(await applyWith(legacyDb.pool, intoLegacy, catalogEvent({ ...base, name: 'renamed on catalog' }))).toBe('conflict');
    expect((await findAggregate(legacyDb.pool, 'product', base.id))!).toMatchObject({ entity: { name: 'renamed on catalog' }, origin: 'catalog' });
    await saveCatalogProduct(catalogDb.pool, { ...base, name: 'renamed on catalog' }, 'catalog');
    expect(await applyWith(catalogDb.pool, intoCatalog, legacyEvent({ ...base, name: 'renamed on legacy' }))).toBe('conflict');
    expect(await catalogRow(base.id)).toMatchObject({ title: 'renamed on catalog', origin: 'catalog' });
  });

  it('rejects events it cannot apply as non-retriable, and counts its own echoes as stale', async () => {
    const apply = (replicated: ReplicatedEvent) => applyWith(catalogDb.pool, intoCatalog, replicated);
    await expect(apply({ aggregateType: 'widget', payload: {}, headers: { origin: 'legacy' } })).rejects.toBeInstanceOf(UnsyncableEventError);
    await expect(apply({ aggregateType: 'product', payload: { id: randomUUID() }, headers: { origin: 'legacy' } })).rejects.toThrow('lacks an integer version');
    await expect(apply({ aggregateType: 'product', payload: legacyProduct(), headers: {} })).rejects.toThrow('no origin header');
    expect(await apply(catalogEvent(legacyProduct({ version: 9 })))).toBe('stale');
  });
});
