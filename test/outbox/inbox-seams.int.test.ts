import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { Registry } from 'prom-client';
import {
  expandJsonHeaders,
  InboxConsumer,
  type BatchControl,
  type DetachedBatch,
  type InboxEvent,
  type Publisher,
  type PublishRecord,
  type RecordBatch,
  type SubscribeOptions,
  type Subscriber,
} from '../../outbox';
import { eventually, type TestDatabase } from '../helpers';
import { createOutboxDatabase, quietLogger } from './support';

/** A Subscriber with no Kafka at all: one batch per `deliver`, offsets marked as the inbox processes them. */
class InMemorySubscriber implements Subscriber {
  readonly marked: string[] = [];
  private handler: ((batch: RecordBatch, control: BatchControl) => Promise<void>) | undefined;
  topics: Array<string | RegExp> = [];

  concurrency: number | undefined;

  async run(options: SubscribeOptions, handler: (batch: RecordBatch, control: BatchControl) => Promise<void>): Promise<void> {
    this.topics = options.topics;
    this.concurrency = options.partitionsConsumedConcurrently;
    this.handler = handler;
  }

  deliver(batch: RecordBatch): Promise<void> {
    return this.handler!(batch, { markProcessed: (offset) => void this.marked.push(offset), heartbeat: async () => undefined, isActive: () => true });
  }

  async disconnect(): Promise<void> {
    this.handler = undefined;
  }
}

/** An InMemorySubscriber whose batches can be detached: what the handler marks after returning is kept per partition. */
class DetachingSubscriber implements Subscriber {
  /** `topic/partition:offset` as marked, in order. */
  readonly marked: string[] = [];
  released = 0;
  /** False: detached batches start nothing more (as when the group rebalanced or the subscriber stops). */
  active = true;
  private handler: ((batch: RecordBatch, control: BatchControl) => Promise<void>) | undefined;

  async run(_options: SubscribeOptions, handler: (batch: RecordBatch, control: BatchControl) => Promise<void>): Promise<void> {
    this.handler = handler;
  }

  deliver(batch: RecordBatch): Promise<void> {
    const mark = (offset: string) => void this.marked.push(`${batch.topic}/${batch.partition}:${offset}`);
    const detach = (): DetachedBatch => ({ markProcessed: mark, isActive: () => this.active, release: () => void (this.released += 1) });
    return this.handler!(batch, { markProcessed: mark, heartbeat: async () => undefined, isActive: () => true, detach });
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

  it('applies a batch of a partition in one transaction per maxBatchEvents, in order, and falls back to one by one around a failure', async () => {
    await db.pool.query('create table batched (event_id uuid primary key, n int not null, txid bigint not null)');
    const subscriber = new InMemorySubscriber();
    let failures = 1;
    const handler = async (event: InboxEvent, client: PoolClient) => {
      const n = (event.payload as { n: number }).n;
      if (n === 170 && failures-- > 0) throw new Error('deadlock detected (transient)');
      await client.query('insert into batched (event_id, n, txid) values ($1, $2, txid_current())', [event.id, n]);
    };
    const registry = new Registry();
    const inbox = new InboxConsumer(
      { name: 'batched', groupId: 'batched', topics: ['outbox.event.order'], topicPrefix: 'outbox.event.', pool: db.pool, kafka: { brokers: ['unused:9092'], clientId: 'batched' }, maxBatchEvents: 100, partitionsConsumedConcurrently: 3, retryBackoffMs: 10 },
      { logger: quietLogger, registry, handler, subscriber, publisher: new InMemoryPublisher() },
    );
    await inbox.start();
    expect(subscriber.concurrency).toBe(3);
    const records = Array.from({ length: 250 }, (_, n) => ({ offset: String(n), key: 'o-1', value: Buffer.from(JSON.stringify({ n })), headers: { id: randomUUID(), type: 'OrderChanged', origin: 'legacy' } }));
    await subscriber.deliver({ topic: 'outbox.event.order', partition: 0, highWatermark: '250', records });
    const { rows } = await db.pool.query('select n, txid from batched order by n');
    expect(rows.map((row) => row.n)).toEqual(Array.from({ length: 250 }, (_, n) => n));
    const transactions = (from: number, to: number) => new Set(rows.slice(from, to).map((row) => row.txid)).size;
    // 0-99 and 200-249: one transaction each; 100-199 failed once at 170 and went one by one.
    expect([transactions(0, 100), transactions(100, 200), transactions(200, 250)]).toEqual([1, 100, 1]);
    expect(subscriber.marked.at(-1)).toBe('249');
    const { values } = await registry.getSingleMetric('strangler_sync_events_total')!.get();
    expect(Object.fromEntries(values.map((value) => [value.labels.outcome, value.value]))).toEqual({ applied: 250, retried: 1 });
    await inbox.stop();
  });

  it('hands a batchHandler each chunk of claimed events in order, counts its outcomes, and retries a failed chunk one event at a time', async () => {
    await db.pool.query('create table bulk (event_id uuid primary key, n int not null, txid bigint not null)');
    const subscriber = new InMemorySubscriber();
    const calls: number[][] = [];
    let failures = 1;
    const batchHandler = async (events: InboxEvent[], client: PoolClient) => {
      const ns = events.map((event) => (event.payload as { n: number }).n);
      calls.push(ns);
      if (ns.includes(42) && failures-- > 0) throw new Error('serialization failure (transient)');
      await client.query('insert into bulk (event_id, n, txid) select unnest($1::uuid[]), unnest($2::int[]), txid_current()', [events.map((event) => event.id), ns]);
      return ns.map((n) => (n % 10 === 9 ? 'stale' : undefined));
    };
    const registry = new Registry();
    const inbox = new InboxConsumer(
      { name: 'bulk', groupId: 'bulk', topics: ['outbox.event.order'], topicPrefix: 'outbox.event.', pool: db.pool, kafka: { brokers: ['unused:9092'], clientId: 'bulk' }, maxBatchEvents: 50, retryBackoffMs: 10 },
      { logger: quietLogger, registry, batchHandler, subscriber, publisher: new InMemoryPublisher() },
    );
    await inbox.start();
    const ids = Array.from({ length: 120 }, () => randomUUID());
    const record = (offset: number, n: number) => ({ offset: String(offset), key: 'o-1', value: Buffer.from(JSON.stringify({ n })), headers: { id: ids[n]!, type: 'OrderChanged' } });
    // Event 7 comes twice in the first chunk (a relay re-sent it); events 100-119 come again in a later delivery.
    const first = [...Array.from({ length: 8 }, (_, n) => record(n, n)), record(8, 7), ...Array.from({ length: 112 }, (_, k) => record(9 + k, 8 + k))];
    await subscriber.deliver({ topic: 'outbox.event.order', partition: 0, highWatermark: '121', records: first });
    await subscriber.deliver({ topic: 'outbox.event.order', partition: 0, highWatermark: '141', records: Array.from({ length: 20 }, (_, k) => record(121 + k, 100 + k)) });

    const { rows } = await db.pool.query('select n, txid from bulk order by n');
    expect(rows.map((row) => row.n)).toEqual(Array.from({ length: 120 }, (_, n) => n));
    // Chunks of 50 records: the first claims events 0-48 (7 once) and fails at 42, so its events go one at a time
    // (the second copy of 7 is a duplicate); the next chunks are one call and one transaction each.
    expect(calls[0]).toEqual(Array.from({ length: 49 }, (_, n) => n));
    expect(calls.slice(1, 50)).toEqual(Array.from({ length: 49 }, (_, n) => [n]));
    expect(calls.slice(50)).toEqual([Array.from({ length: 50 }, (_, k) => 49 + k), Array.from({ length: 21 }, (_, k) => 99 + k)]);
    expect(new Set(rows.slice(49, 99).map((row) => row.txid)).size).toBe(1);
    expect(subscriber.marked.at(-1)).toBe('140');
    const { values } = await registry.getSingleMetric('strangler_sync_events_total')!.get();
    expect(Object.fromEntries(values.map((value) => [value.labels.outcome, value.value]))).toEqual({ applied: 108, stale: 12, duplicate: 21 });
    await inbox.stop();
  });

  it('passes over the events skip() answers true for: no transaction, no inbox row, counted as skipped, offsets still committed', async () => {
    await db.pool.query('create table echoes (event_id uuid primary key, n int not null)');
    const subscriber = new InMemorySubscriber();
    const handled: number[] = [];
    const handler = async (event: InboxEvent, client: PoolClient) => {
      handled.push((event.payload as { n: number }).n);
      await client.query('insert into echoes (event_id, n) values ($1, $2)', [event.id, (event.payload as { n: number }).n]);
    };
    const registry = new Registry();
    const inbox = new InboxConsumer(
      { name: 'echoes', groupId: 'echoes', topics: ['outbox.event.order'], topicPrefix: 'outbox.event.', pool: db.pool, kafka: { brokers: ['unused:9092'], clientId: 'echoes' }, maxBatchEvents: 4 },
      { logger: quietLogger, registry, handler, subscriber, publisher: new InMemoryPublisher(), skip: (event) => event.headers.origin === 'orders' },
    );
    await inbox.start();
    // Every third event is this side's own; the last chunk (offsets 8-9) holds only its own events.
    const origin = (n: number) => (n % 3 === 0 || n >= 8 ? 'orders' : 'legacy');
    const records = Array.from({ length: 10 }, (_, n) => ({ offset: String(n), key: 'o-1', value: Buffer.from(JSON.stringify({ n })), headers: { id: randomUUID(), type: 'OrderChanged', origin: origin(n) } }));
    await subscriber.deliver({ topic: 'outbox.event.order', partition: 0, highWatermark: '10', records });
    expect(handled).toEqual([1, 2, 4, 5, 7]);
    const inboxRows = await db.pool.query("select event_id::text from inbox where consumer = 'echoes'");
    expect(inboxRows.rows.map((row) => row.event_id).sort()).toEqual([1, 2, 4, 5, 7].map((n) => records[n]!.headers.id).sort());
    expect(subscriber.marked.at(-1)).toBe('9');
    const { values } = await registry.getSingleMetric('strangler_sync_events_total')!.get();
    expect(Object.fromEntries(values.map((value) => [value.labels.outcome, value.value]))).toEqual({ applied: 5, skipped: 5 });
    await inbox.stop();
  });

  it('refuses dependencies with both a handler and a batchHandler, or neither', () => {
    const options = { name: 'x', groupId: 'x', topics: ['t'], pool: db.pool, kafka: { brokers: ['unused:9092'] } };
    const base = { logger: quietLogger, registry: new Registry(), subscriber: new InMemorySubscriber(), publisher: new InMemoryPublisher() };
    const both = { ...base, handler: async () => undefined, batchHandler: async () => undefined } as never;
    expect(() => new InboxConsumer(options, both)).toThrow(expect.objectContaining({ code: 'SFG_OUTBOX_INVALID_OPTIONS', message: expect.stringContaining('exactly one of handler and batchHandler') }));
    expect(() => new InboxConsumer(options, base as never)).toThrow(expect.objectContaining({ code: 'SFG_OUTBOX_INVALID_OPTIONS' }));
  });

  it("reads a record whose headers column Debezium placed as one JSON header 'headers' like one with a header per entry", async () => {
    expect(expandJsonHeaders({ id: 'e', type: 'T', headers: '{"origin": "legacy", "version": "3"}' })).toEqual({ origin: 'legacy', version: '3', id: 'e', type: 'T', headers: '{"origin": "legacy", "version": "3"}' });
    expect(expandJsonHeaders({ id: 'e', origin: 'catalog', headers: '{"origin": "legacy"}' }).origin).toBe('catalog');
    expect(expandJsonHeaders({ id: 'e', headers: 'not json' })).toEqual({ id: 'e', headers: 'not json' });
    const subscriber = new InMemorySubscriber();
    const seen: InboxEvent[] = [];
    const inbox = new InboxConsumer(
      { name: 'debezium', groupId: 'debezium', topics: ['outbox.event.order'], topicPrefix: 'outbox.event.', pool: db.pool, kafka: { brokers: ['unused:9092'], clientId: 'debezium' } },
      { logger: quietLogger, registry: new Registry(), handler: async (event) => void seen.push(event), subscriber, publisher: new InMemoryPublisher() },
    );
    await inbox.start();
    const id = randomUUID();
    await subscriber.deliver({ topic: 'outbox.event.order', partition: 0, highWatermark: '1', records: [{ offset: '0', key: 'o-9', value: Buffer.from('{}'), headers: { id, type: 'OrderPlaced', headers: '{"origin": "orders", "version": "1"}' } }] });
    expect(seen.map((event) => ({ id: event.id, origin: event.headers.origin, version: event.headers.version }))).toEqual([{ id, origin: 'orders', version: '1' }]);
    await inbox.stop();
  });

  it('applies the events of unclaimedTopics without an inbox row (a redelivery reaches the handler again); other topics are still claimed', async () => {
    const subscriber = new InMemorySubscriber();
    const seen: Array<{ topic: string; id: string }> = [];
    const batchHandler = async (events: InboxEvent[]) => {
      for (const event of events) seen.push({ topic: event.topic, id: event.id });
      return events.map(() => undefined);
    };
    const inbox = new InboxConsumer(
      {
        name: 'unclaimed',
        groupId: 'unclaimed',
        topics: ['outbox.event.order', 'legacy.public.orders'],
        topicPrefix: 'outbox.event.',
        pool: db.pool,
        kafka: { brokers: ['unused:9092'], clientId: 'unclaimed' },
        unclaimedTopics: ['legacy.public.orders'],
      },
      { logger: quietLogger, registry: new Registry(), batchHandler, subscriber, publisher: new InMemoryPublisher() },
    );
    await inbox.start();
    const [captured, claimed] = [randomUUID(), randomUUID()];
    const record = (offset: string, id: string) => ({ offset, key: 'o-1', value: Buffer.from(JSON.stringify({ n: 1 })), headers: { id, type: 'OrderChanged', origin: 'legacy' } });
    for (const delivery of [1, 2]) {
      await subscriber.deliver({ topic: 'legacy.public.orders', partition: 0, highWatermark: '2', records: [record(String(delivery * 2 - 2), captured), record(String(delivery * 2 - 1), captured)] });
      await subscriber.deliver({ topic: 'outbox.event.order', partition: 0, highWatermark: '2', records: [record(String(delivery * 2 - 2), claimed), record(String(delivery * 2 - 1), claimed)] });
    }
    // The unclaimed topic's copies all reach the handler; the claimed topic's event once, its copies are duplicates.
    expect(seen.filter((event) => event.topic === 'legacy.public.orders')).toHaveLength(4);
    expect(seen.filter((event) => event.topic === 'outbox.event.order')).toEqual([{ topic: 'outbox.event.order', id: claimed }]);
    const rows = await db.pool.query("select event_id::text from inbox where consumer = 'unclaimed'");
    expect(rows.rows).toEqual([{ event_id: claimed }]);
    expect(subscriber.marked).toEqual(['1', '1', '3', '3']);
    await inbox.stop();
  });

  it('applies what one fetch brought of coalescedTopics in one transaction across partitions, fetching on meanwhile; marks each partition after the commit', async () => {
    await db.pool.query('create table coalesced (topic text not null, partition int not null, n int not null, txid bigint not null)');
    const subscriber = new DetachingSubscriber();
    const calls: string[][] = [];
    let gate: (() => void) | undefined;
    let gated = new Promise<void>((resolve) => (gate = resolve));
    let failures = 1;
    const batchHandler = async (events: InboxEvent[], client: PoolClient) => {
      const names = events.map((event) => `${event.topic}/${event.partition}:${(event.payload as { n: number }).n}`);
      calls.push(names);
      await gated;
      if (names.includes('outbox.event.line/1:31') && failures-- > 0) throw new Error('deadlock detected (transient)');
      await client.query('insert into coalesced select t, p, n, txid_current() from unnest($1::text[], $2::int[], $3::int[]) as u(t, p, n)', [
        events.map((event) => event.topic),
        events.map((event) => event.partition),
        events.map((event) => (event.payload as { n: number }).n),
      ]);
    };
    const registry = new Registry();
    const topics = ['outbox.event.order', 'outbox.event.line'];
    const inbox = new InboxConsumer(
      {
        name: 'coalesced',
        groupId: 'coalesced',
        topics,
        topicPrefix: 'outbox.event.',
        pool: db.pool,
        kafka: { brokers: ['unused:9092'], clientId: 'coalesced' },
        maxBatchEvents: 6,
        retryBackoffMs: 10,
        coalescedTopics: topics,
        unclaimedTopics: ['outbox.event.line'],
      },
      { logger: quietLogger, registry, batchHandler, subscriber, publisher: new InMemoryPublisher() },
    );
    await inbox.start();
    const batch = (topic: string, partition: number, ns: number[]): RecordBatch => ({
      topic,
      partition,
      highWatermark: String(ns.length),
      records: ns.map((n, offset) => ({ offset: String(offset), key: `k${partition}`, value: Buffer.from(JSON.stringify({ n })), headers: { id: randomUUID(), type: 'Changed', origin: 'legacy' } })),
    });
    // One fetch: three partitions of two topics, handed over in one turn. Each handler returns before anything is applied.
    await Promise.all([batch('outbox.event.order', 0, [1, 2, 3]), batch('outbox.event.order', 1, [11, 12]), batch('outbox.event.line', 0, [21])].map((delivered) => subscriber.deliver(delivered)));
    await eventually(() => calls.length === 1, 5_000, 'the first chunk handed to the handler');
    expect(subscriber.marked).toEqual([]);
    // The next fetch arrives while the first chunk is applied: 7 records of one partition, so chunks of at most 6.
    await subscriber.deliver(batch('outbox.event.line', 1, [31, 32, 33, 34, 35, 36, 37]));
    expect(subscriber.marked).toEqual([]);
    gate!();
    await eventually(() => subscriber.released === 4, 5_000, 'every batch done');
    // Chunk 1: the first fetch, each partition's events in offset order. Chunk 2 (the line batch's first 6) failed
    // once at 31 and went one event at a time; chunk 3: its last record.
    expect(calls[0]).toEqual(['outbox.event.order/0:1', 'outbox.event.order/0:2', 'outbox.event.order/0:3', 'outbox.event.order/1:11', 'outbox.event.order/1:12', 'outbox.event.line/0:21']);
    expect(calls[1]).toEqual([31, 32, 33, 34, 35, 36].map((n) => `outbox.event.line/1:${n}`));
    expect(calls.slice(2)).toEqual([...[31, 32, 33, 34, 35, 36].map((n) => [`outbox.event.line/1:${n}`]), ['outbox.event.line/1:37']]);
    const { rows } = await db.pool.query<{ topic: string; partition: number; n: number; txid: string }>('select topic, partition, n, txid::text from coalesced order by n');
    expect(rows.map((row) => row.n)).toEqual([1, 2, 3, 11, 12, 21, 31, 32, 33, 34, 35, 36, 37]);
    expect(new Set(rows.slice(0, 6).map((row) => row.txid)).size).toBe(1);
    // Marked after the commits, per partition; the claimed topic's events are claimed, the unclaimed topic's not.
    expect(subscriber.marked.slice(0, 3)).toEqual(['outbox.event.order/0:2', 'outbox.event.order/1:1', 'outbox.event.line/0:0']);
    expect(subscriber.marked.at(-1)).toBe('outbox.event.line/1:6');
    expect((await db.pool.query("select count(*)::int as n from inbox where consumer = 'coalesced'")).rows[0].n).toBe(5);
    const { values } = await registry.getSingleMetric('strangler_sync_events_total')!.get();
    expect(values.map((value) => [value.labels.aggregatetype, value.labels.outcome, value.value]).sort()).toEqual([
      ['line', 'applied', 8],
      ['order', 'applied', 5],
    ]);

    // Once the detached batches are no longer active (a rebalance, a stop), what is held is neither applied nor marked.
    gated = new Promise<void>((resolve) => (gate = resolve));
    const before = subscriber.marked.length;
    await subscriber.deliver(batch('outbox.event.order', 0, [4, 5]));
    await eventually(() => calls.length === 10, 5_000, 'the chunk handed over');
    await subscriber.deliver(batch('outbox.event.order', 1, [13]));
    subscriber.active = false;
    gate!();
    await eventually(() => subscriber.released === 6, 5_000, 'both batches released');
    expect(calls).toHaveLength(10);
    expect(subscriber.marked.slice(before)).toEqual(['outbox.event.order/0:1']);
    await inbox.stop();
  });

  it('holds a coalesced chunk again when applying it fails unexpectedly: nothing fetched after it is marked before it is applied', async () => {
    const subscriber = new DetachingSubscriber();
    const applied: number[] = [];
    let throws = 1;
    const topic = 'outbox.event.order';
    const inbox = new InboxConsumer(
      { name: 'again', groupId: 'again', topics: [topic], topicPrefix: 'outbox.event.', pool: db.pool, kafka: { brokers: ['unused:9092'], clientId: 'again' }, maxBatchEvents: 3, retryBackoffMs: 10, coalescedTopics: [topic], unclaimedTopics: [topic] },
      {
        logger: quietLogger,
        registry: new Registry(),
        subscriber,
        publisher: new InMemoryPublisher(),
        batchHandler: async (events) => void applied.push(...events.map((event) => (event.payload as { n: number }).n)),
        // A dependency that fails outside any event's transaction (once).
        skip: (event) => {
          if ((event.payload as { n: number }).n === 2 && throws-- > 0) throw new Error('skip failed');
          return false;
        },
      },
    );
    await inbox.start();
    const batch = (partition: number, ns: number[]): RecordBatch => ({
      topic,
      partition,
      highWatermark: String(ns.length),
      records: ns.map((n, offset) => ({ offset: String(offset), key: `k${n}`, value: Buffer.from(JSON.stringify({ n })), headers: { id: randomUUID(), type: 'Changed' } })),
    });
    await subscriber.deliver(batch(0, [1, 2, 3, 4]));
    await subscriber.deliver(batch(1, [5]));
    await eventually(() => subscriber.released === 2, 5_000, 'both batches done');
    // The first chunk (1-3) failed before anything was applied, and came again before 4 and 5.
    expect(applied).toEqual([1, 2, 3, 4, 5]);
    expect(subscriber.marked).toEqual([`${topic}/0:2`, `${topic}/0:3`, `${topic}/1:0`]);
    await inbox.stop();
  });
});
