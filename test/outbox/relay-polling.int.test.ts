import type { Registry } from 'prom-client';
import { append } from '../../outbox';
import { collectRecords, eventually, type CollectedRecord, type TestDatabase } from '../helpers';
import { createOutboxDatabase, assertComplete, createTopics, startRelay, testRelayOptions, writeWorkload, type Workload } from './support';

async function published(registry: Registry): Promise<number> {
  const { values } = await registry.getSingleMetric('strangler_outbox_published_total')!.get();
  return values.reduce((sum, value) => sum + value.value, 0);
}

describe('polling relay (real Postgres and Kafka)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_outbox_poll', { max: 12 });
  });
  afterAll(async () => {
    await db.drop();
  });

  it('publishes the same records as the CDC relay for the same workload', async () => {
    const cdc = testRelayOptions(db, { mode: 'cdc' });
    const polling = testRelayOptions(db, { mode: 'polling', polling: { intervalMs: 200, batchSize: 700 } });
    const workload: Workload = { aggregateType: 'Cart', aggregates: 60, eventsPerAggregate: 50, writers: 4, perTransaction: 25 };
    const total = workload.aggregates * workload.eventsPerAggregate;
    const topics = [cdc, polling].map((options) => `${options.topicPrefix}${workload.aggregateType}`);
    await createTopics(topics);
    // Both read the same table at once: CDC from the WAL, polling from the rows (which it deletes once published).
    const relays = [await startRelay(cdc), await startRelay(polling)];
    try {
      const collecting = topics.map((topic) => collectRecords({ topics: [topic], count: total, timeoutMs: 60_000, settleMs: 500 }));
      expect(await writeWorkload(db.pool, workload)).toBe(total);
      const [fromCdc, fromPolling] = await Promise.all(collecting);
      expect(assertComplete(fromPolling!, workload)).toBe(0);
      const shape = (records: CollectedRecord[]) =>
        records.map((record) => JSON.stringify([record.partition, record.key, record.value, record.headers])).sort();
      expect(shape(fromPolling!)).toEqual(shape(fromCdc!));
      expect((await db.pool.query('select count(*)::int as n from outbox')).rows[0].n).toBe(0);
    } finally {
      for (const { relay } of relays) await relay.stop();
    }
  });

  it('never skips a transaction that commits after later ones (out-of-order commits)', async () => {
    const options = testRelayOptions(db, { mode: 'polling', polling: { intervalMs: 100, batchSize: 100 } });
    const topic = `${options.topicPrefix}Slow`;
    await createTopics([topic]);
    const { relay } = await startRelay(options);
    const early = await db.pool.connect();
    try {
      // The early transaction writes first (lower relay_seq, lower xid) and stays open.
      await early.query('begin');
      const earlyId = await append(early, { aggregateType: 'Slow', aggregateId: 'early', type: 'Written', payload: { n: 0 } });
      const laterIds: string[] = [];
      for (let n = 1; n <= 5; n += 1) {
        const client = await db.pool.connect();
        try {
          await client.query('begin');
          laterIds.push(await append(client, { aggregateType: 'Slow', aggregateId: `later-${n}`, type: 'Written', payload: { n } }));
          await client.query('commit');
        } finally {
          client.release();
        }
      }
      const first = await collectRecords({ topics: [topic], count: 5, timeoutMs: 30_000 });
      expect(first.map((record) => record.headers.id).sort()).toEqual([...laterIds].sort());
      // Let the relay poll past them a few times before the early transaction commits.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await early.query('commit');
      const all = await collectRecords({ topics: [topic], count: 6, timeoutMs: 30_000, settleMs: 300 });
      expect(all.map((record) => record.headers.id).sort()).toEqual([earlyId, ...laterIds].sort());
    } finally {
      early.release();
      await relay.stop();
    }
  });

  it('keeps per-aggregate order with several polling instances (one leads, the others stand by)', async () => {
    const options = testRelayOptions(db, { mode: 'polling', polling: { intervalMs: 100, batchSize: 300 } });
    const workload: Workload = { aggregateType: 'Multi', aggregates: 40, eventsPerAggregate: 50, writers: 4, perTransaction: 20 };
    const topic = `${options.topicPrefix}${workload.aggregateType}`;
    await createTopics([topic]);
    const instances = [await startRelay(options), await startRelay(options), await startRelay(options)];
    try {
      expect(instances.filter(({ relay }) => relay.isLeader)).toHaveLength(1);
      const collecting = collectRecords({ topics: [topic], count: 2_000, timeoutMs: 60_000, settleMs: 500 , distinctBy: (record) => record.headers.id! });
      const writing = writeWorkload(db.pool, workload);
      // Midway (a fifth published, the writers still busy), the leader stops; a standby takes over and continues
      // from the rows still in the table.
      const leader = instances.find(({ relay }) => relay.isLeader)!;
      await eventually(async () => (await published(leader.registry)) >= 400, 30_000, 'a fifth of the events published by the first leader', 20);
      await leader.relay.stop();
      const firstPublished = await published(leader.registry);
      expect(firstPublished).toBeLessThan(2_000);
      const successor = await eventually(() => instances.find(({ relay }) => relay.isLeader), 5_000, 'a standby taking over');
      await writing;
      assertComplete(await collecting, workload);
      // The takeover happened mid-stream: the successor published the rest (and maybe repeats), the first leader none after its stop.
      expect(await published(successor.registry)).toBeGreaterThanOrEqual(2_000 - firstPublished);
      expect(await published(leader.registry)).toBe(firstPublished);
    } finally {
      for (const { relay } of instances) await relay.stop();
    }
  });
});
