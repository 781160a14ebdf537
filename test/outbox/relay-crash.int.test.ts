import fs from 'node:fs';
import { collectRecords, eventually, type TestDatabase } from '../helpers';
import { createOutboxDatabase, assertComplete, createTopics, spawnRelay, testRelayOptions, writeRelayConfig, writeWorkload, type RelayProcess, type Workload } from './support';

const STREAMING = /streaming from the replication slot/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('CDC relay as a process: kill -9 and failover (real Postgres and Kafka)', () => {
  let db: TestDatabase;
  const running: RelayProcess[] = [];
  const configs: string[] = [];
  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_outbox_crash', { max: 8 });
  });
  afterEach(async () => {
    for (const relay of running.splice(0)) {
      relay.child.kill('SIGKILL');
      await relay.exited;
    }
    for (const file of configs.splice(0)) fs.rmSync(file, { force: true });
  });
  afterAll(async () => {
    await db.drop();
  });

  it('loses nothing and keeps order when the relay is killed -9 six times while writers run; SIGTERM exits 0', async () => {
    const options = testRelayOptions(db, { leadership: { retryIntervalMs: 200 } });
    const config = writeRelayConfig(options);
    configs.push(config);
    const workload: Workload = { aggregateType: 'Ledger', aggregates: 200, eventsPerAggregate: 60, writers: 4, perTransaction: 10, pauseMs: 40 };
    const total = workload.aggregates * workload.eventsPerAggregate;
    const topic = `${options.topicPrefix}${workload.aggregateType}`;
    await createTopics([topic]);

    let writing = true;
    let writes: Promise<number> | undefined;
    let kills = 0;
    let allKilled!: () => void;
    const lastTransactionAfter = new Promise<void>((resolve) => (allKilled = resolve));
    while (kills < 6) {
      const relay = spawnRelay(config);
      running.push(relay);
      await relay.waitFor(STREAMING, 30_000);
      // The first relay creates the slot; events written before a slot exists are not in its stream.
      writes ??= writeWorkload(db.pool, workload, { lastTransactionAfter }).finally(() => (writing = false));
      await sleep(200 + Math.floor(Math.random() * 800));
      relay.child.kill('SIGKILL');
      await relay.exited;
      running.splice(running.indexOf(relay), 1);
      kills += 1;
      if (kills === 6) expect(writing).toBe(true);
    }
    allKilled();
    const survivor = spawnRelay(config);
    running.push(survivor);
    await survivor.waitFor(STREAMING, 30_000);
    await writes;
    expect(writing).toBe(false);
    const records = await collectRecords({ topics: [topic], count: total, timeoutMs: 60_000, settleMs: 1_000 , distinctBy: (record) => record.headers.id! });
    const repeats = assertComplete(records, workload);
    // Every record beyond the workload is a re-delivery of an event already counted above.
    expect(records.length - repeats).toBe(total);

    survivor.child.kill('SIGTERM');
    expect(await survivor.exited).toBe(0);
    running.splice(running.indexOf(survivor), 1);
    // It confirmed everything it published before exiting: nothing is left for a restart to re-send.
    const pending = await db.pool.query(
      `select count(*)::int as n from pg_logical_slot_peek_binary_changes($1, null, null, 'proto_version', '1', 'publication_names', $2)`,
      [options.slotName, options.publicationName],
    );
    expect(pending.rows[0].n).toBe(0);
  });

  it('a hot standby takes over within seconds when the leader is killed -9, with nothing lost', async () => {
    const options = testRelayOptions(db, { leadership: { retryIntervalMs: 200 } });
    const config = writeRelayConfig(options);
    configs.push(config);
    const workload: Workload = { aggregateType: 'Failover', aggregates: 100, eventsPerAggregate: 40, writers: 2, perTransaction: 5, pauseMs: 10 };
    const topic = `${options.topicPrefix}${workload.aggregateType}`;
    await createTopics([topic]);

    const first = spawnRelay(config);
    running.push(first);
    await first.waitFor(STREAMING, 30_000);
    const second = spawnRelay(config);
    running.push(second);
    await second.waitFor(/standing by/, 30_000);

    let killed!: () => void;
    const writes = writeWorkload(db.pool, workload, { lastTransactionAfter: new Promise<void>((resolve) => (killed = resolve)) });
    // Mid-stream: the first leader has published a good part, and the writers are still busy.
    const firstMetrics = (JSON.parse(await first.waitFor(/relay metrics listening/)) as { metricsPort: number }).metricsPort;
    await eventually(async () => {
      const text = await (await fetch(`http://127.0.0.1:${firstMetrics}/metrics`)).text();
      const published = /^strangler_outbox_published_total\{[^}]*\} (\d+)/m.exec(text);
      return Number(published?.[1] ?? 0) >= 500;
    }, 30_000, 'the first leader publishing 500 events', 20);
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    killed();
    await second.waitFor(STREAMING, 15_000);
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(5_000);
    // The new leader says so on its /metrics endpoint.
    const { metricsPort } = JSON.parse(await second.waitFor(/relay metrics listening/)) as { metricsPort: number };
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain(`strangler_outbox_leader{relay="${options.name}"} 1`);
    await writes;
    const records = await collectRecords({ topics: [topic], count: workload.aggregates * workload.eventsPerAggregate, timeoutMs: 60_000, settleMs: 500, distinctBy: (record) => record.headers.id! });
    assertComplete(records, workload);
  });
});
