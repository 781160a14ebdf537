import { Registry } from 'prom-client';
import { append, appendMany } from '../../outbox';
import { collectRecords, type TestDatabase } from '../helpers';
import { createOutboxDatabase, createTopics, startRelay, testRelayOptions } from './support';

describe.each(['cdc', 'polling'] as const)('%s relay: Debezium EventRouter format', (mode) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createOutboxDatabase(`sfg_outbox_fmt_${mode}`);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('publishes topic outbox prefix + aggregatetype, key aggregateid, id/type/custom headers, payload as stored', async () => {
    const options = testRelayOptions(db, { mode });
    await createTopics([`${options.topicPrefix}Order`, `${options.topicPrefix}Customer`]);
    const registry = new Registry();
    const { relay } = await startRelay(options, registry);
    try {
      const payloads = [{ total: 12.5, lines: [{ sku: 'a', qty: 2 }] }, { name: 'Zoë "Z" Ünal' }];
      const client = await db.pool.connect();
      let ids: string[];
      try {
        await client.query('begin');
        ids = await appendMany(client, [
          { aggregateType: 'Order', aggregateId: 'o-42', type: 'OrderCreated', payload: payloads[0], headers: { origin: 'legacy', version: '1' } },
          { aggregateType: 'Customer', aggregateId: 'c-7', type: 'CustomerRenamed', payload: payloads[1] },
        ]);
        await client.query('commit');
      } finally {
        client.release();
      }
      // Debezium's EventRouter forwards the payload column as Postgres renders jsonb as text.
      const rendered = await db.pool.query<{ text: string }>('select unnest($1::jsonb[])::text as text', [payloads.map((payload) => JSON.stringify(payload))]);
      const records = await collectRecords({ topics: [`${options.topicPrefix}Order`, `${options.topicPrefix}Customer`], count: 2, timeoutMs: 30_000 });
      const byId = new Map(records.map((record) => [record.headers.id, record]));
      expect(byId.get(ids[0]!)).toMatchObject({
        topic: `${options.topicPrefix}Order`,
        key: 'o-42',
        headers: { id: ids[0], type: 'OrderCreated', origin: 'legacy', version: '1' },
      });
      expect(byId.get(ids[1]!)).toMatchObject({ topic: `${options.topicPrefix}Customer`, key: 'c-7', headers: { id: ids[1], type: 'CustomerRenamed' } });
      ids.forEach((id, index) => {
        expect(byId.get(id)!.value).toBe(rendered.rows[index]!.text);
        expect(JSON.parse(byId.get(id)!.value!)).toEqual(payloads[index]);
      });
      const published = await registry.getSingleMetric('strangler_outbox_published_total')!.get();
      expect(published.values.find((value) => value.labels.aggregatetype === 'Order')?.value).toBe(1);
      expect(relay.isLeader).toBe(true);
    } finally {
      await relay.stop();
    }
  });

  it.each(['json', 'both'] as const)("places the headers column as Debezium's EventRouter does with headerPlacement %s", async (headerPlacement) => {
    const options = testRelayOptions(db, { mode, headerPlacement });
    await createTopics([`${options.topicPrefix}Order`]);
    const { relay } = await startRelay(options);
    try {
      const client = await db.pool.connect();
      let id: string;
      try {
        id = await append(client, { aggregateType: 'Order', aggregateId: 'o-43', type: 'OrderCreated', payload: { total: 1 }, headers: { origin: 'legacy', version: '2' } });
      } finally {
        client.release();
      }
      const [record] = await collectRecords({ topics: [`${options.topicPrefix}Order`], count: 1, timeoutMs: 30_000 });
      expect(JSON.parse(record!.headers.headers!)).toEqual({ origin: 'legacy', version: '2' });
      expect(record!.headers).toMatchObject({ id, type: 'OrderCreated' });
      if (headerPlacement === 'json') expect(Object.keys(record!.headers).sort()).toEqual(['headers', 'id', 'type']);
      else expect(record!.headers).toMatchObject({ origin: 'legacy', version: '2' });
    } finally {
      await relay.stop();
    }
  });

  if (mode === 'cdc') {
    it('publishes events written in insert-then-delete mode (table stays empty) from the WAL alone', async () => {
      const options = testRelayOptions(db, { mode });
      await createTopics([`${options.topicPrefix}Ephemeral`]);
      const { relay } = await startRelay(options);
      try {
        const client = await db.pool.connect();
        let id: string;
        try {
          await client.query('begin');
          id = await append(client, { aggregateType: 'Ephemeral', aggregateId: 'e-1', type: 'Happened', payload: { n: 1 } }, { deleteAfterInsert: true });
          await client.query('commit');
        } finally {
          client.release();
        }
        const [record] = await collectRecords({ topics: [`${options.topicPrefix}Ephemeral`], count: 1, timeoutMs: 30_000 });
        expect(record).toMatchObject({ key: 'e-1', value: '{"n": 1}', headers: { id, type: 'Happened' } });
        expect((await db.pool.query(`select count(*)::int as n from outbox where aggregatetype = 'Ephemeral'`)).rows[0].n).toBe(0);
      } finally {
        await relay.stop();
      }
    });
  }
});
