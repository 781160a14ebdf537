import fs from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers';

/** test/fixtures/shop-mapping: a legacy and a service schema that differ, and the mapping between them. */
export const FIXTURE_DIR = path.join(__dirname, '..', 'fixtures', 'shop-mapping');
export const FIXTURE_MAPPING = path.join(FIXTURE_DIR, 'mapping.yaml');

export interface FixtureDatabases {
  legacy: TestDatabase;
  service: TestDatabase;
  drop(): Promise<void>;
}

/** Two fresh databases with the fixture's schemas, and legacy rows: `items` items, 2 customers, 2 baskets. */
export async function fixtureDatabases(prefix: string, items = 30): Promise<FixtureDatabases> {
  const [legacy, service] = await Promise.all([createTestDatabase(`${prefix}_legacy`), createTestDatabase(`${prefix}_service`)]);
  await legacy.pool.query(fs.readFileSync(path.join(FIXTURE_DIR, 'legacy.sql'), 'utf8'));
  await service.pool.query(fs.readFileSync(path.join(FIXTURE_DIR, 'service.sql'), 'utf8'));
  await legacy.pool.query(
    `insert into items (id, title, price, state, stock, version)
     select n, 'Item ' || n, (n * 1.25)::numeric(10, 2), case when n % 5 = 0 then 'D' else 'A' end, n * 3, 1 from generate_series(1, $1::int) n`,
    [items],
  );
  await legacy.pool.query(`insert into customers (id, full_name, version) values (1, 'Ada Lovelace', 1), (2, 'Grace Brewster Hopper', 3)`);
  await legacy.pool.query(
    `insert into baskets (id, lines, version) values
       ('00000000-0000-4000-8000-000000000001', '[{"sku": "A-1", "quantity": 2}, {"sku": "B-7", "quantity": 1}]', 1),
       ('00000000-0000-4000-8000-000000000002', '[]', 4)`,
  );
  return {
    legacy,
    service,
    drop: async () => {
      await Promise.all([legacy.drop(), service.drop()]);
    },
  };
}
