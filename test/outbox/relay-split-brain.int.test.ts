import { Registry } from 'prom-client';
import { append, createRelay, KafkaPublisher, type Publisher, type PublishRecord, type RelayOptions } from '../../outbox';
import { collectRecords, eventually, testEnv, type TestDatabase } from '../helpers';
import { assertComplete, createOutboxDatabase, createTopics, quietLogger, startRelay, testRelayOptions, writeWorkload, type Workload } from './support';

/** A real KafkaPublisher that notes when each send started and which event ids it carried. */
class RecordingPublisher implements Publisher {
  readonly sends: Array<{ at: number; ids: string[] }> = [];
  private readonly inner: KafkaPublisher;

  constructor(clientId: string) {
    this.inner = new KafkaPublisher({ brokers: testEnv().kafkaBrokers, clientId }, { logger: quietLogger });
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  send(records: PublishRecord[]): Promise<void> {
    this.sends.push({ at: Date.now(), ids: records.map((record) => record.headers.id!) });
    return this.inner.send(records);
  }

  disconnect(): Promise<void> {
    return this.inner.disconnect();
  }

  get published(): number {
    return this.sends.reduce((sum, send) => sum + send.ids.length, 0);
  }
}

async function leaderGauge(registry: Registry): Promise<number> {
  const { values } = await registry.getSingleMetric('strangler_outbox_leader')!.get();
  return values[0]?.value ?? 0;
}

/** The backend holding the relay's advisory lock: its leadership session, not its replication connection. */
async function lockHolder(db: TestDatabase, options: RelayOptions): Promise<number | undefined> {
  const { rows } = await db.pool.query<{ pid: number }>(
    `select a.pid from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and a.application_name = $1 and a.datname = current_database()`,
    [`strangler-relay-${options.name}`],
  );
  return rows.length === 1 ? rows[0]!.pid : undefined;
}

describe('relay leadership under split-brain (real Postgres and Kafka)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_split_brain', { max: 12 });
  });
  afterAll(async () => {
    await db.drop();
  });

  describe.each(['cdc', 'polling'] as const)('%s relay', (mode) => {
    it('stops publishing the moment its lock session is terminated while its process lives; the standby takes over and nothing is lost or reordered', async () => {
      // A CDC relay leaves its rows in the table; a polling relay would publish them again.
      await db.pool.query('truncate outbox');
      const options = testRelayOptions(db, { mode, leadership: { retryIntervalMs: 200 }, polling: { intervalMs: 100, batchSize: 200 } });
      const workload: Workload = { aggregateType: 'Brain', aggregates: 30, eventsPerAggregate: 60, writers: 3, perTransaction: 3, pauseMs: 15 };
      const total = workload.aggregates * workload.eventsPerAggregate;
      const topic = `${options.topicPrefix}${workload.aggregateType}`;
      await createTopics([topic]);

      const first = { publisher: new RecordingPublisher('split-first'), registry: new Registry() };
      const second = { publisher: new RecordingPublisher('split-second'), registry: new Registry() };
      const relays = [first, second].map(({ publisher, registry }) => createRelay(options, { logger: quietLogger, registry, publisher }));
      await relays[0]!.start();
      expect(relays[0]!.isLeader).toBe(true);
      await relays[1]!.start();
      expect(relays[1]!.isLeader).toBe(false);
      let lostAt = 0;
      relays[0]!.once('standby', () => (lostAt = Date.now()));
      let tookOverAt = 0;
      relays[1]!.once('leader', () => (tookOverAt = Date.now()));
      try {
        const collecting = collectRecords({ topics: [topic], count: total, timeoutMs: 90_000, settleMs: 1_000, distinctBy: (record) => record.headers.id! });
        const writing = writeWorkload(db.pool, workload);
        await eventually(() => first.publisher.published >= total / 4, 30_000, 'a quarter of the events published by the first leader', 20);

        const pid = await eventually(() => lockHolder(db, options), 5_000, 'the backend holding the lock');
        const terminatedAt = Date.now();
        await db.pool.query('select pg_terminate_backend($1)', [pid]);

        // The first relay notices at once and says so; its process (this one) stays up and stands by.
        await eventually(async () => lostAt > 0 && (await leaderGauge(first.registry)) === 0, 1_000, 'the first relay giving up leadership');
        await eventually(() => tookOverAt > 0, 5_000, 'the standby taking over');
        expect(await leaderGauge(second.registry)).toBe(1);
        expect(relays[0]!.isLeader).toBe(false);
        // Takeover is bounded by the standby's retry interval plus starting to publish (slot, stream, first poll).
        expect(tookOverAt - terminatedAt).toBeLessThan(1_000);

        expect(await writing).toBe(total);
        const records = await collecting;
        assertComplete(records, workload);
        expect(second.publisher.published).toBeGreaterThan(0);

        // Never two publishers at once: the first relay started no send after it gave up, which was before the
        // second took over, and no record on Kafka that only the first relay sent was created after the takeover.
        expect(first.publisher.sends.filter((send) => send.at > lostAt)).toEqual([]);
        expect(lostAt).toBeLessThanOrEqual(tookOverAt);
        const sentBySecond = new Set(second.publisher.sends.flatMap((send) => send.ids));
        const lateFromFirst = records.filter((record) => Number(record.timestamp) > tookOverAt && !sentBySecond.has(record.headers.id!));
        expect(lateFromFirst.map((record) => record.headers.id)).toEqual([]);
      } finally {
        for (const relay of relays) await relay.stop();
      }
    });
  });

  it('polling relay: a NOTIFY alone delivers a new event within 2 s when the poll interval is 60 s', async () => {
    const options = testRelayOptions(db, { mode: 'polling', polling: { intervalMs: 60_000, batchSize: 100 } });
    const topic = `${options.topicPrefix}Wake`;
    await createTopics([topic]);
    const { relay } = await startRelay(options);
    try {
      for (let n = 0; n < 3; n += 1) {
        // Each event after the first can only be found by a poll that the NOTIFY of its insert started: the last
        // poll found the previous event, and the next interval poll is a minute away.
        const committedAt = Date.now();
        const client = await db.pool.connect();
        try {
          await client.query('begin');
          await append(client, { aggregateType: 'Wake', aggregateId: 'w', type: 'Woken', payload: { n } });
          await client.query('commit');
        } finally {
          client.release();
        }
        const records = await collectRecords({ topics: [topic], count: n + 1, timeoutMs: 10_000 });
        expect(records.map((record) => (JSON.parse(record.value!) as { n: number }).n)).toEqual(Array.from({ length: n + 1 }, (_, k) => k));
        // The record's create time is when the relay sent it (a fresh collector takes longer than that to join).
        expect(Number(records[n]!.timestamp) - committedAt).toBeLessThan(2_000);
      }
    } finally {
      await relay.stop();
    }
  });
});
