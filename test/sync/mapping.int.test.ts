import type { PoolClient } from 'pg';
import {
  backfill,
  loadMappingFile,
  MappingApplier,
  openAggregates,
  parseMapping,
  verify,
  type AggregateStores,
  type Mapping,
  type ReplicatedEvent,
} from '../../sync';
import { FIXTURE_MAPPING, fixtureDatabases, type FixtureDatabases } from './fixture';

/** Backfill, verify and apply through one mapping, between schemas that differ in names, units, vocabulary and shape. */
describe('declared data mappings against live schemas', () => {
  let databases: FixtureDatabases;
  let mapping: Mapping;
  let stores: AggregateStores[];
  const pools = () => ({ legacy: databases.legacy.pool, service: databases.service.pool });
  const storesOf = (aggregateType: string) => stores.find((entry) => entry.mapping.aggregateType === aggregateType)!;
  const verifyOne = (aggregateType: string) => verify(storesOf(aggregateType), pools(), { chunkSize: 7, maxExamples: 3 });

  beforeAll(async () => {
    databases = await fixtureDatabases('sfg_mapping');
    mapping = loadMappingFile(FIXTURE_MAPPING);
    stores = await openAggregates(mapping, [...mapping.aggregates.values()], pools());
  });
  afterAll(async () => {
    await databases?.drop();
  });

  it('backfills every aggregate into the differently shaped service tables, then verifies 0 drift', async () => {
    for (const entry of stores) {
      const result = await backfill(entry, pools(), { chunkSize: 7, checkpointName: entry.mapping.aggregateType, restart: false, legacyOrigin: 'legacy' });
      expect(result.copied).toBe(result.total);
    }
    const service = databases.service.pool;
    expect((await service.query('select * from catalog_products where product_id = 5')).rows[0]).toEqual({
      product_id: 5, name: 'Item 5', price_cents: 625, status: 'discontinued', revision: 1, written_by: 'legacy',
    });
    expect((await service.query('select on_hand from catalog_stock where product_id = 5')).rows[0]).toEqual({ on_hand: 15 });
    expect((await service.query('select first_name, last_name from accounts order by id')).rows).toEqual([
      { first_name: 'Ada', last_name: 'Lovelace' },
      { first_name: 'Grace', last_name: 'Brewster Hopper' },
    ]);
    expect((await service.query("select line_no, sku, quantity from cart_lines where cart_id = '00000000-0000-4000-8000-000000000001' order by line_no")).rows).toEqual([
      { line_no: 0, sku: 'A-1', quantity: 2 },
      { line_no: 1, sku: 'B-7', quantity: 1 },
    ]);
    for (const aggregateType of ['item', 'customer', 'basket']) expect((await verifyOne(aggregateType)).driftRows).toBe(0);
  });

  it('finds a content difference in a joined table and a unit difference, as `different`', async () => {
    await databases.service.pool.query('update catalog_stock set on_hand = on_hand + 1 where product_id = 7');
    await databases.service.pool.query('update catalog_products set price_cents = 1 where product_id = 8');
    await databases.service.pool.query("update cart_lines set quantity = 9 where cart_id = '00000000-0000-4000-8000-000000000001' and line_no = 1");
    const items = await verifyOne('item');
    expect(items.counts).toEqual({ missingInTarget: 0, missingInSource: 0, stale: 0, different: 2 });
    expect(items.examples.map((example) => example.id)).toEqual(['7', '8']);
    expect((await verifyOne('basket')).counts.different).toBe(1);
  });

  it('applies legacy events to the service and service events to legacy, translating both ways', async () => {
    const service = await MappingApplier.open(mapping, 'service', databases.service.pool);
    const legacy = await MappingApplier.open(mapping, 'legacy', databases.legacy.pool);
    const apply = async (applier: MappingApplier, pool: 'legacy' | 'service', event: ReplicatedEvent) => {
      const client: PoolClient = await databases[pool].pool.connect();
      try {
        await client.query('begin');
        const outcome = await applier.apply(client, event);
        await client.query('commit');
        return outcome;
      } finally {
        client.release();
      }
    };
    const fromLegacy = { origin: 'legacy' };
    expect(await apply(service, 'service', { aggregateType: 'item', headers: fromLegacy, payload: { id: 3, title: 'Kettle', price: '12.34', state: 'D', stock: 4, version: 2 } })).toBe('applied');
    expect((await databases.service.pool.query('select name, price_cents, status, revision from catalog_products where product_id = 3')).rows[0]).toEqual({ name: 'Kettle', price_cents: 1234, status: 'discontinued', revision: 2 });
    expect(await apply(service, 'service', { aggregateType: 'item', headers: fromLegacy, payload: { id: 3, title: 'Old', price: '1.00', state: 'A', stock: 4, version: 1 } })).toBe('stale');

    const fromCatalog = { origin: 'catalog' };
    expect(await apply(legacy, 'legacy', { aggregateType: 'item', headers: fromCatalog, payload: { productId: 4, name: 'Teapot', priceCents: 999, status: 'active', onHand: 2, revision: 5 } })).toBe('applied');
    expect((await databases.legacy.pool.query('select title, price, state, stock, version, last_writer from items where id = 4')).rows[0]).toEqual({ title: 'Teapot', price: '9.99', state: 'A', stock: 2, version: 5, last_writer: 'catalog' });
    expect(await apply(legacy, 'legacy', { aggregateType: 'customer', headers: fromCatalog, payload: { id: 1, firstName: 'Augusta', lastName: 'Ada King', version: 2 } })).toBe('applied');
    expect((await databases.legacy.pool.query('select full_name from customers where id = 1')).rows[0].full_name).toBe('Augusta Ada King');

    // Its own events come back on the shared topic: counted stale, not applied.
    expect(await apply(legacy, 'legacy', { aggregateType: 'item', headers: fromLegacy, payload: { id: 4, title: 'echo', price: '1', state: 'A', stock: 1, version: 9 } })).toBe('stale');
    // A tie of versions from the two origins: the owner (the service) wins on both sides.
    expect(await apply(legacy, 'legacy', { aggregateType: 'item', headers: fromCatalog, payload: { productId: 4, name: 'Teapot (catalog)', priceCents: 999, status: 'active', onHand: 2, revision: 5 } })).toBe('stale');
    await databases.legacy.pool.query("update items set title = 'Teapot (legacy)', last_writer = 'legacy' where id = 4");
    expect(await apply(legacy, 'legacy', { aggregateType: 'item', headers: fromCatalog, payload: { productId: 4, name: 'Teapot (catalog)', priceCents: 999, status: 'active', onHand: 2, revision: 5 } })).toBe('conflict');
    expect((await databases.legacy.pool.query('select title from items where id = 4')).rows[0].title).toBe('Teapot (catalog)');
  });

  it('refuses events it cannot translate or apply, as non-retriable errors', async () => {
    const service = await MappingApplier.open(mapping, 'service', databases.service.pool);
    const client = await databases.service.pool.connect();
    try {
      const attempt = (event: ReplicatedEvent) => service.apply(client, event);
      await expect(attempt({ aggregateType: 'item', headers: { origin: 'legacy' }, payload: { id: 9, title: 'x', price: '1', state: 'Z', stock: 1, version: 9 } })).rejects.toMatchObject({ code: 'SFG_SYNC_UNTRANSLATABLE', retriable: false });
      await expect(attempt({ aggregateType: 'widget', headers: { origin: 'legacy' }, payload: {} })).rejects.toMatchObject({ code: 'SFG_SYNC_UNSYNCABLE_EVENT' });
      await expect(attempt({ aggregateType: 'item', headers: {}, payload: { id: 1 } })).rejects.toThrow('no origin header');
      await expect(attempt({ aggregateType: 'item', headers: { origin: 'legacy' }, payload: { id: 1, title: 'x', price: '1', state: 'A', stock: 1 } })).rejects.toThrow("lacks an integer version 'revision'");
    } finally {
      client.release();
    }
  });

  it('reports every table and column the live schema lacks, with its path, before reading a row', async () => {
    const broken = parseMapping({
      aggregates: {
        item: {
          owner: 'service',
          legacy: { table: 'items', key: 'id', version: 'version', fields: { id: 'id', title: 'titel', version: 'version' } },
          service: { table: 'catalog_products', key: 'productId', version: 'revision', fields: { productId: 'product_id', title: 'name', revision: 'revision' }, joined: [{ table: 'stock_levels', key: 'product_id', fields: { stock: 'on_hand' } }] },
          toService: { productId: 'id', revision: 'version', stock: { value: 0 } },
          toLegacy: { id: 'productId', version: 'revision' },
        },
        basket: {
          owner: 'legacy',
          legacy: { table: 'baskets', key: 'id', version: 'lines', fields: { id: 'id', lines: 'lines' } },
          service: { table: 'carts', key: 'id', version: 'version', fields: { id: 'cart_id', version: 'version' } },
          toLegacy: { lines: { value: null } },
          toService: { version: 'lines' },
        },
      },
    });
    await expect(openAggregates(broken, [...broken.aggregates.values()], pools())).rejects.toMatchObject({
      code: 'SFG_SYNC_SCHEMA_MISMATCH',
      issues: [
        { path: 'aggregates.item.legacy.fields.title', message: expect.stringContaining('column items.titel does not exist') },
        { path: 'aggregates.item.service.joined.0.table', message: 'table stock_levels does not exist' },
        { path: 'aggregates.basket.legacy.version', message: 'baskets.lines is jsonb; the version must be an integer column' },
      ],
    });
  });
});
