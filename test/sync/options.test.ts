import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadMappingFile, MappingInvalidError, parseMapping, type MappingIssue } from '../../sync';
import { FIXTURE_MAPPING } from './fixture';

function issuesOf(input: unknown): MappingIssue[] {
  try {
    parseMapping(input);
  } catch (error) {
    if (error instanceof MappingInvalidError) return error.issues;
    throw error;
  }
  throw new Error('expected the mapping to be rejected');
}

const side = { table: 'items', key: 'id', version: 'version', fields: { id: 'id', version: 'version' } };

describe('parseMapping', () => {
  it('loads the fixture mapping, with rule and module translators both ways', () => {
    const mapping = loadMappingFile(FIXTURE_MAPPING);
    expect([...mapping.aggregates.keys()]).toEqual(['item', 'customer', 'basket']);
    const item = mapping.aggregates.get('item')!;
    expect(item.ownerOrigin).toBe('catalog');
    expect(item.toService({ id: 1, title: 'Kettle', price: '12.34', state: 'A', stock: 3, version: 2 })).toEqual({ productId: 1, name: 'Kettle', priceCents: 1234, status: 'active', revision: 2, onHand: 3 });
    expect(item.toLegacy({ productId: 1, name: 'Kettle', priceCents: 1999, status: 'discontinued', revision: 2, onHand: 3 })).toEqual({ id: 1, title: 'Kettle', price: 19.99, state: 'D', stock: 3, version: 2 });
    const customer = mapping.aggregates.get('customer')!;
    expect(customer.toService({ id: 2, fullName: 'Grace Brewster Hopper', version: 1 })).toEqual({ id: 2, firstName: 'Grace', lastName: 'Brewster Hopper', version: 1 });
  });

  it('reports unknown keys and bad values, each with its path', () => {
    const issues = issuesOf({ aggregates: { item: { owner: 'service', legacy: { ...side, colour: 'red' }, service: { ...side, table: 'no such; table' } } }, extra: 1 });
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'extra', message: 'unknown key' },
        { path: 'aggregates.item.legacy.colour', message: 'unknown key' },
        expect.objectContaining({ path: 'aggregates.item.service.table' }),
      ]),
    );
  });

  it('reports every cross-field problem at once: keys, versions, rules, sources and origins', () => {
    const issues = issuesOf({
      origins: { legacy: 'same', service: 'same' },
      aggregates: {
        item: {
          owner: 'service',
          legacy: { table: 'items', key: 'sku', version: 'version', fields: { id: 'id', version: 'version', price: 'price' } },
          service: { table: 'products', key: 'id', version: 'rev', fields: { id: 'id', version: 'version', priceCents: 'price_cents', colour: 'colour' } },
          toService: { priceCents: { from: 'prize', multiply: 100 }, weight: 'id' },
          toLegacy: { price: { divide: 100 } },
        },
      },
    }).map((issue) => issue.path);
    expect(issues).toEqual(
      expect.arrayContaining([
        'origins',
        'aggregates.item.legacy.key',
        'aggregates.item.service.version',
        'aggregates.item.toService.priceCents.from',
        'aggregates.item.toService.weight',
        'aggregates.item.toService',
        'aggregates.item.toLegacy.price',
      ]),
    );
  });

  it('names a translators module that cannot be loaded or exports nothing useful', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-mapping-'));
    fs.writeFileSync(path.join(dir, 'empty.js'), 'exports.other = () => ({});\n');
    fs.writeFileSync(path.join(dir, 'mapping.yaml'), `aggregates:\n  a: { owner: legacy, translators: ./empty.js, legacy: ${JSON.stringify(side)}, service: ${JSON.stringify(side)} }\n  b: { owner: legacy, translators: ./missing.js, legacy: ${JSON.stringify(side)}, service: ${JSON.stringify(side)} }\n`);
    try {
      loadMappingFile(path.join(dir, 'mapping.yaml'));
      throw new Error('expected a rejection');
    } catch (error) {
      const { issues } = error as MappingInvalidError;
      expect(issues).toEqual([
        { path: 'aggregates.a.translators', message: expect.stringContaining('exports neither toService nor toLegacy') },
        { path: 'aggregates.b.translators', message: expect.stringContaining('cannot load translators module') },
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});
