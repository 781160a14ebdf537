import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { createTestDatabase, type TestDatabase } from '../helpers';

describe('real Postgres with logical replication', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('smoke_pg');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('runs with wal_level=logical', async () => {
    const { rows } = await db.pool.query('show wal_level');
    expect(rows[0].wal_level).toBe('logical');
  });

  it('streams an insert through a pgoutput replication slot', async () => {
    await db.pool.query('create table items (id int primary key, name text not null)');
    await db.pool.query('create publication smoke_pub for table items');
    await db.pool.query(`select pg_create_logical_replication_slot('smoke_slot', 'pgoutput')`);

    const service = new LogicalReplicationService({ connectionString: db.url }, { acknowledge: { auto: true, timeoutSeconds: 0 } });
    const inserted = new Promise<Record<string, unknown>>((resolve, reject) => {
      service.on('data', (_lsn: string, message: { tag: string; new?: Record<string, unknown> }) => {
        if (message.tag === 'insert' && message.new) resolve(message.new);
      });
      service.on('error', reject);
    });
    const subscribed = service
      .subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: ['smoke_pub'] }), 'smoke_slot')
      .catch(() => undefined);
    await db.pool.query(`insert into items (id, name) values (1, 'first')`);
    try {
      await expect(inserted).resolves.toEqual({ id: 1, name: 'first' });
    } finally {
      await service.stop();
      await subscribed;
    }
  });
});
