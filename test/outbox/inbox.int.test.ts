import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { InboxConsumer, KafkaPublisher, type InboxEvent, type PublishRecord } from '../../outbox';
import { collectRecords, testEnv, uniqueName, type TestDatabase } from '../helpers';
import { createOutboxDatabase, createTopics, quietLogger } from './support';

/** Polls until `accept` holds and returns that value; fails at the deadline with the last one. */
async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached after ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function outcomes(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('strangler_sync_events_total')!.get();
  const result: Record<string, number> = {};
  for (const value of metric.values) result[String(value.labels.outcome)] = (result[String(value.labels.outcome)] ?? 0) + value.value;
  return result;
}

describe('inbox consumer (real Postgres and Kafka)', () => {
  let db: TestDatabase;
  let publisher: KafkaPublisher;
  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_outbox_inbox');
    await db.pool.query('create table applied (event_id uuid primary key, aggregate_id text not null, n int not null)');
    publisher = new KafkaPublisher({ brokers: testEnv().kafkaBrokers, clientId: 'inbox-test' }, { logger: quietLogger });
    await publisher.connect();
  });
  afterAll(async () => {
    await publisher.disconnect();
    await db.drop();
  });

  it('applies each event once in the handler transaction, absorbs duplicates, retries, dead-letters a poison event and goes on', async () => {
    const prefix = `${uniqueName('inbox').replace(/_/g, '-')}.`;
    const topic = `${prefix}Order`;
    await createTopics([topic, `${topic}.dlq`], 1);
    const record = (id: string, n: number, extra: Record<string, unknown> = {}): PublishRecord => ({
      topic,
      key: 'o-1',
      value: JSON.stringify({ n, ...extra }),
      headers: { id, type: 'OrderChanged', origin: 'legacy' },
    });
    const ids = { first: randomUUID(), second: randomUUID(), flaky: randomUUID(), stale: randomUUID(), poison: randomUUID(), last: randomUUID() };
    await publisher.send([
      record(ids.first, 1),
      record(ids.second, 2),
      record(ids.first, 1),
      record(ids.flaky, 3, { flaky: true }),
      record(ids.stale, 0, { stale: true }),
      record(ids.poison, 4, { poison: true }),
      record(ids.last, 5),
    ]);

    const attempts = new Map<string, number>();
    const handler = async (event: InboxEvent, client: import('pg').PoolClient) => {
      attempts.set(event.id, (attempts.get(event.id) ?? 0) + 1);
      const payload = event.payload as { n: number; flaky?: boolean; poison?: boolean; stale?: boolean };
      if (payload.stale) return 'stale' as const;
      await client.query('insert into applied (event_id, aggregate_id, n) values ($1, $2, $3)', [event.id, event.aggregateId, payload.n]);
      // Writes before the failure must roll back with it.
      if (payload.poison) throw new Error('cannot apply a poisoned order');
      if (payload.flaky && attempts.get(event.id)! < 3) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
      expect(event).toMatchObject({ aggregateType: 'Order', aggregateId: 'o-1', type: 'OrderChanged', topic, headers: { origin: 'legacy' } });
    };
    const registry = new Registry();
    const options = {
      name: 'orders-sync',
      groupId: uniqueName('inbox-group'),
      topics: [topic],
      pool: db.pool,
      kafka: { brokers: testEnv().kafkaBrokers },
      maxAttempts: 3,
      retryBackoffMs: 20,
      topicPrefix: prefix,
    };
    const consumer = new InboxConsumer(options, { logger: quietLogger, registry, handler });
    await consumer.start();
    try {
      const applied = await eventually(
        async () => (await db.pool.query<{ n: number }>('select n from applied order by n')).rows.map((row) => row.n),
        (rows) => rows.includes(5),
      );
      expect(applied).toEqual([1, 2, 3, 5]);
      const counted = await eventually(() => outcomes(registry), (value) => value.applied === 4);
      expect(counted).toEqual({ applied: 4, duplicate: 1, stale: 1, retried: 4, dlq: 1 });
      expect(attempts.get(ids.poison)).toBe(3);
      const lag = await registry.getSingleMetric('strangler_sync_consumer_lag_messages')!.get();
      expect(lag.values).toEqual([{ labels: { consumer: 'orders-sync', topic }, value: 0 }]);
      const inbox = await db.pool.query('select event_id from inbox where consumer = $1', ['orders-sync']);
      expect(inbox.rows.map((row) => row.event_id).sort()).toEqual([ids.first, ids.second, ids.flaky, ids.stale, ids.last].sort());

      const [dead] = await collectRecords({ topics: [`${topic}.dlq`], count: 1, timeoutMs: 30_000 });
      expect(dead).toMatchObject({
        key: 'o-1',
        value: JSON.stringify({ n: 4, poison: true }),
        headers: {
          id: ids.poison,
          type: 'OrderChanged',
          'sfg.dlq.original.topic': topic,
          'sfg.dlq.original.partition': '0',
          'sfg.dlq.original.offset': '5',
          'sfg.dlq.error.code': 'unknown',
          'sfg.dlq.error.message': 'cannot apply a poisoned order',
          'sfg.dlq.attempts': '3',
        },
      });
    } finally {
      await consumer.stop();
      await consumer.stop();
    }

    // A second consumer group re-reads the whole topic: every event already applied is a duplicate.
    const rereadRegistry = new Registry();
    const reread = new InboxConsumer({ ...options, groupId: uniqueName('inbox-reread') }, { logger: quietLogger, registry: rereadRegistry, handler });
    await reread.start();
    try {
      const counted = await eventually(() => outcomes(rereadRegistry), (value) => (value.duplicate ?? 0) + (value.dlq ?? 0) >= 7);
      expect(counted).toEqual({ duplicate: 6, retried: 2, dlq: 1 });
      expect((await db.pool.query('select count(*)::int as n from applied')).rows[0].n).toBe(4);
    } finally {
      await reread.stop();
    }
  });
});
