import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { Registry } from 'prom-client';
import { InboxConsumer, type BatchControl, type InboxEvent, type Publisher, type PublishRecord, type RecordBatch, type Subscriber } from '../../outbox';
import { eventually, type TestDatabase } from '../helpers';
import { createOutboxDatabase, quietLogger } from './support';

/** A Subscriber with no Kafka at all: one batch per `deliver`, offsets marked as the inbox processes them. */
class InMemorySubscriber implements Subscriber {
  readonly marked: string[] = [];
  private handler: ((batch: RecordBatch, control: BatchControl) => Promise<void>) | undefined;
  topics: Array<string | RegExp> = [];

  async run(options: { topics: Array<string | RegExp>; fromBeginning: boolean }, handler: (batch: RecordBatch, control: BatchControl) => Promise<void>): Promise<void> {
    this.topics = options.topics;
    this.handler = handler;
  }

  deliver(batch: RecordBatch): Promise<void> {
    return this.handler!(batch, { markProcessed: (offset) => void this.marked.push(offset), heartbeat: async () => undefined, isActive: () => true });
  }

  async disconnect(): Promise<void> {
    this.handler = undefined;
  }
}

class InMemoryPublisher implements Publisher {
  readonly sent: PublishRecord[] = [];
  async connect(): Promise<void> {}
  async send(records: PublishRecord[]): Promise<void> {
    this.sent.push(...records);
  }
  async disconnect(): Promise<void> {}
}

/** The inbox's logic against its own interfaces: another Kafka client replaces kafkajs without touching it. */
describe('inbox consumer behind the Subscriber and Publisher interfaces (real Postgres, no Kafka)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_inbox_seams');
    await db.pool.query('create table applied (event_id uuid primary key, n int not null)');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('applies once, skips duplicates, dead-letters a poison record through the publisher and marks every offset', async () => {
    const subscriber = new InMemorySubscriber();
    const publisher = new InMemoryPublisher();
    const handler = async (event: InboxEvent, client: PoolClient) => {
      if ((event.payload as { poison?: boolean }).poison) throw Object.assign(new Error('cannot apply'), { retriable: false });
      await client.query('insert into applied (event_id, n) values ($1, $2)', [event.id, (event.payload as { n: number }).n]);
    };
    const inbox = new InboxConsumer(
      { name: 'seams', groupId: 'seams', topics: ['outbox.event.order'], topicPrefix: 'outbox.event.', pool: db.pool, kafka: { brokers: ['unused:9092'], clientId: 'seams' } },
      { logger: quietLogger, registry: new Registry(), handler, subscriber, publisher },
    );
    await inbox.start();
    expect(subscriber.topics).toEqual(['outbox.event.order']);
    const [first, poison] = [randomUUID(), randomUUID()];
    const record = (offset: string, id: string, payload: object) => ({ offset, key: 'o-1', value: Buffer.from(JSON.stringify(payload)), headers: { id, type: 'OrderChanged', origin: 'legacy' } });
    await subscriber.deliver({
      topic: 'outbox.event.order',
      partition: 0,
      highWatermark: '3',
      records: [record('0', first, { n: 1 }), record('1', first, { n: 1 }), record('2', poison, { poison: true })],
    });
    expect(subscriber.marked).toEqual(['0', '1', '2']);
    expect((await db.pool.query('select event_id, n from applied')).rows).toEqual([{ event_id: first, n: 1 }]);
    const dead = await eventually(() => publisher.sent.find((sent) => sent.topic === 'outbox.event.order.dlq'), 5_000, 'the DLQ record');
    expect(dead.headers).toMatchObject({ id: poison, origin: 'legacy', 'sfg.dlq.original.offset': '2', 'sfg.dlq.attempts': '1' });
    await inbox.stop();
  });
});
