import { Client } from 'pg';
import { Registry } from 'prom-client';
import { CapturePreflightError, createRelay, OutboxError, resetReplicationSlot, SlotLostError, type RelayOptions } from '../../outbox';
import { prepareCaptureSlot } from '../../outbox/capture/slot';
import { collectRecords, createTestDatabase, testEnv, uniqueName, type TestDatabase } from '../helpers';
import { startPrivatePostgres } from '../helpers/private-postgres';
import { captureRelayOptions } from './capture-support';
import { createTopics, quietLogger, startRelay } from './support';

async function refusal(options: RelayOptions): Promise<CapturePreflightError> {
  const relay = createRelay(options, { logger: quietLogger, registry: new Registry() });
  const error = await relay.start().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  await relay.stop();
  expect(error).toBeInstanceOf(CapturePreflightError);
  return error as CapturePreflightError;
}

async function admin(sql: string): Promise<void> {
  const client = new Client({ connectionString: testEnv().databaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function asRole(url: string, role: string): string {
  const parsed = new URL(url);
  parsed.username = role;
  parsed.password = '';
  return parsed.toString();
}

describe('table-capture relay: what it refuses at start, and what it needs (real Postgres)', () => {
  let db: TestDatabase;
  const roles: string[] = [];
  beforeAll(async () => {
    db = await createTestDatabase('sfg_capture_pre');
    await db.pool.query(`
      create schema inventory;
      create table inventory.items (id int primary key, name text);
      create table inventory.stock (item_id int primary key, qty int);
      create table inventory.no_key (a int, b text);
      create table inventory.silent (id int primary key);
      alter table inventory.silent replica identity nothing;`);
  });
  afterAll(async () => {
    await db.drop();
    for (const role of roles) await admin(`drop role if exists "${role}"`);
  });

  it('names every problem at once: a missing table, one without a primary key, one whose updates would fail; nothing is created', async () => {
    const options = captureRelayOptions(db, ['inventory.items', 'inventory.nope', 'inventory.no_key', 'inventory.silent', 'Inventory.items']);
    const error = await refusal(options);
    expect(error.code).toBe('SFG_CAPTURE_PREFLIGHT');
    expect(error.problems.map((problem) => [problem.code, problem.table])).toEqual([
      ['SFG_CAPTURE_TABLE_MISSING', 'inventory.nope'],
      ['SFG_CAPTURE_TABLE_MISSING', 'Inventory.items'],
      ['SFG_CAPTURE_NO_PRIMARY_KEY', 'inventory.no_key'],
      ['SFG_CAPTURE_REPLICA_IDENTITY', 'inventory.silent'],
    ]);
    expect(error.message).toContain('ALTER TABLE "inventory"."no_key" ADD PRIMARY KEY');
    expect(error.message).toContain('REPLICA IDENTITY FULL gives before images, not a key');
    expect(error.message).toContain('ALTER TABLE "inventory"."silent" REPLICA IDENTITY DEFAULT');
    const created = await db.pool.query(`select (select count(*)::int from pg_publication) as publications, (select count(*)::int from pg_replication_slots where database = current_database()) as slots`);
    expect(created.rows[0]).toEqual({ publications: 0, slots: 0 });
  });

  it('a role without REPLICATION is told the ALTER ROLE to run', async () => {
    const role = uniqueName('sfg_norepl');
    roles.push(role);
    await admin(`create role "${role}" login`);
    const error = await refusal(captureRelayOptions({ url: asRole(db.url, role) }, ['inventory.items']));
    expect(error.problems.map((problem) => problem.code)).toContain('SFG_CAPTURE_PRIVILEGE');
    expect(error.message).toContain(`ALTER ROLE "${role}" REPLICATION`);
  });

  it('a non-superuser REPLICATION role that does not own the tables gets the exact CREATE PUBLICATION for their owner; once run, it captures', async () => {
    const role = uniqueName('sfg_repl');
    roles.push(role);
    await admin(`create role "${role}" login replication`);
    const options = captureRelayOptions({ url: asRole(db.url, role) }, ['inventory.items', 'inventory.stock']);
    const error = await refusal(options);
    expect(error.code).toBe('SFG_CAPTURE_PRIVILEGE');
    expect(error.problems[0]!.table).toBe('inventory.items');
    const statement = /`(CREATE PUBLICATION [^`]+)`/.exec(error.message)?.[1];
    expect(statement).toBe(`CREATE PUBLICATION "${options.publicationName}" FOR TABLE "inventory"."items", "inventory"."stock";`);

    // A publication that misses a table: its owner is told what to add.
    await db.pool.query(`create publication "${options.publicationName}" for table inventory.items`);
    const partial = await refusal(options);
    expect(partial.code).toBe('SFG_CAPTURE_PUBLICATION');
    expect(partial.message).toContain(`ALTER PUBLICATION "${options.publicationName}" ADD TABLE "inventory"."stock";`);
    await db.pool.query(`drop publication "${options.publicationName}"`);

    // The owner runs the statement as given; the REPLICATION role (no superuser, no ownership) then captures.
    await db.pool.query(statement!);
    const topic = `${options.capture!.topicPrefix}.inventory.stock`;
    await createTopics([topic]);
    const { relay } = await startRelay(options);
    try {
      expect(relay.isLeader).toBe(true);
      await db.pool.query(`insert into inventory.stock values (1, 5)`);
      const [record] = await collectRecords({ topics: [topic], count: 1, timeoutMs: 30_000 });
      expect(JSON.parse(record!.value!)).toMatchObject({ after: { item_id: 1, qty: 5 }, op: 'c' });
    } finally {
      await relay.stop();
    }
  });

  it('a vanished slot it created is refused naming `strangler relay --mode tables --reset-slot`; the reset lets it start anew', async () => {
    const options = captureRelayOptions(db, ['inventory.items']);
    const first = await startRelay(options);
    await first.relay.stop();
    await db.pool.query('select pg_drop_replication_slot($1)', [options.slotName]);
    const relay = createRelay(options, { logger: quietLogger, registry: new Registry() });
    const error = await relay.start().then(() => undefined, (caught: unknown) => caught);
    await relay.stop();
    expect(error).toMatchObject({ code: 'SFG_OUTBOX_SLOT_MISSING', message: expect.stringContaining('strangler relay --mode tables --reset-slot') });
    expect(await resetReplicationSlot(options)).toEqual({ slot: options.slotName, forgotten: true });
    const again = await startRelay(options);
    expect(again.relay.isLeader).toBe(true);
    await again.relay.stop();
  });

  it('a lost slot is refused with the recovery of mode tables', async () => {
    const client = {
      query: async (text: string) => {
        if (text.includes('from pg_replication_slots')) return { rows: [{ wal_status: 'lost', plugin: 'pgoutput', database: 'x', ours: true, confirmed: '0/10' }] };
        return { rows: [] };
      },
    } as unknown as Client;
    const catalog = { database: 'x', role: 'r', tables: new Map(), publication: { exists: true, owned: true, comment: null, missing: [] }, slotExists: true, partitioned: false };
    const error = await prepareCaptureSlot(client, catalog, { slotName: 's', publicationName: 'p' }, quietLogger).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SlotLostError);
    expect((error as OutboxError).message).toContain('strangler relay --mode tables --reset-slot');
  });

  it('wal_level below logical is refused with the setting and what to run (a private cluster with wal_level=replica)', async () => {
    const cluster = await startPrivatePostgres({ wal_level: 'replica' });
    try {
      await cluster.query('create table items (id int primary key)');
      const error = await refusal(captureRelayOptions({ url: cluster.url }, ['items']));
      expect(error.problems).toEqual([expect.objectContaining({ code: 'SFG_CAPTURE_WAL_LEVEL' })]);
      expect(error.code).toBe('SFG_CAPTURE_WAL_LEVEL');
      expect(error.message).toContain("wal_level is 'replica'");
      expect(error.message).toContain('ALTER SYSTEM SET wal_level = logical;');
    } finally {
      await cluster.destroy();
    }
  });
});
