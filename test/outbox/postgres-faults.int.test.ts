import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Registry } from 'prom-client';
import { Pool } from 'pg';
import { appendMany, createRelay, InboxConsumer, KafkaPublisher, migrateOutbox, type OutboxError, type OutboxEvent } from '../../outbox';
import { collectRecords, eventually, testEnv, uniqueName } from '../helpers';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres';
import { assertComplete, createTopics, quietLogger, startRelay, testRelayOptions, writeRelayConfig, type Workload } from './support';

const CLI = path.join(__dirname, '..', '..', 'cli', 'index.ts');

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, ...args], (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Like support's writeWorkload, but each transaction survives the server going away: a marker row written in the
 * same transaction tells, after reconnecting, whether a commit whose answer was lost went through, so every event is
 * written exactly once and each aggregate's events stay in order.
 */
async function writeThroughFaults(pool: Pool, workload: Workload): Promise<{ written: number; retried: number }> {
  await pool.query('create table if not exists written_transactions (id text primary key)');
  let written = 0;
  let retried = 0;
  await Promise.all(
    Array.from({ length: workload.writers }, async (_, writer) => {
      const events: OutboxEvent[] = [];
      for (let seq = 0; seq < workload.eventsPerAggregate; seq += 1) {
        for (let aggregate = writer; aggregate < workload.aggregates; aggregate += workload.writers) {
          events.push({ aggregateType: workload.aggregateType, aggregateId: `a-${aggregate}`, type: 'Changed', payload: { seq } });
        }
      }
      for (let start = 0; start < events.length; start += workload.perTransaction) {
        const id = `${writer}:${start}`;
        for (;;) {
          const client = await pool.connect().catch(() => undefined);
          if (!client) {
            retried += 1;
            await sleep(100);
            continue;
          }
          // A checked-out client has no pool listener: the server going away between two queries must not crash us.
          const ignore = () => undefined;
          client.on('error', ignore);
          try {
            await client.query('begin');
            const done = await client.query('select 1 from written_transactions where id = $1', [id]);
            if (!done.rowCount) {
              await appendMany(client, events.slice(start, start + workload.perTransaction));
              await client.query('insert into written_transactions (id) values ($1)', [id]);
            }
            await client.query('commit');
            client.off('error', ignore);
            client.release();
            break;
          } catch (error) {
            client.off('error', ignore);
            client.release(error as Error);
            retried += 1;
            await sleep(100);
          }
        }
        written += Math.min(workload.perTransaction, events.length - start);
        if (workload.pauseMs) await sleep(workload.pauseMs);
      }
    }),
  );
  return { written, retried };
}

describe('the relays and the inbox on a Postgres cluster of their own (restart, lost slot)', () => {
  let server: PrivatePostgres;
  let pool: Pool;
  beforeAll(async () => {
    // 1 MB WAL segments and at most 4 MB kept for a slot, so a test can push an idle slot past what is kept.
    server = await startPrivatePostgres({ max_slot_wal_keep_size: '4MB', min_wal_size: '2MB', max_wal_size: '8MB' }, ['--wal-segsize=1']);
    pool = new Pool({ connectionString: server.url, max: 6 });
    pool.on('error', () => undefined);
    await migrateOutbox(pool);
  }, 60_000);
  afterAll(async () => {
    await pool?.end();
    await server?.destroy();
  });

  describe.each(['cdc', 'polling'] as const)('%s relay', (mode) => {
    it('a Postgres restart mid-stream loses nothing: the relay stands by while the server is down and resumes by itself', async () => {
      await pool.query('truncate outbox');
      const options = testRelayOptions({ url: server.url }, { mode, leadership: { retryIntervalMs: 200 }, polling: { intervalMs: 100, batchSize: 200 } });
      const workload: Workload = { aggregateType: 'Restart', aggregates: 20, eventsPerAggregate: 50, writers: 2, perTransaction: 2, pauseMs: 10 };
      const total = workload.aggregates * workload.eventsPerAggregate;
      const topic = `${options.topicPrefix}${workload.aggregateType}`;
      await createTopics([topic]);
      const { relay } = await startRelay(options);
      const changes: string[] = [];
      relay.on('leader', () => changes.push('leader')).on('standby', () => changes.push('standby'));
      let fatal: Error | undefined;
      relay.on('fatal', (error: Error) => (fatal = error));
      try {
        const collecting = collectRecords({ topics: [topic], count: total, timeoutMs: 120_000, settleMs: 1_000, distinctBy: (record) => record.headers.id! });
        const writing = writeThroughFaults(pool, workload);
        await eventually(async () => (await pool.query('select count(*)::int as n from written_transactions').catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n >= total / workload.perTransaction / 4, 30_000, 'a quarter of the workload written');

        await server.restart('immediate');

        const { written, retried } = await writing;
        expect(written).toBe(total);
        // The restart really hit the writers, and the relay went to standby and led again without being touched.
        expect(retried).toBeGreaterThan(0);
        await eventually(() => changes.join(',') === 'standby,leader' || changes.length > 2, 30_000, 'the relay leading again after the restart');
        expect(changes.slice(0, 2)).toEqual(['standby', 'leader']);
        expect(relay.isLeader).toBe(true);
        const records = await collecting;
        assertComplete(records, workload);
        expect(fatal).toBeUndefined();
      } finally {
        await relay.stop();
        await pool.query('drop table if exists written_transactions');
      }
    });
  });

  it('inbox: a Postgres outage far longer than its retry budget sends nothing to the DLQ; every event is applied once, in order per aggregate', async () => {
    await pool.query('create table if not exists inbox_applied (n bigserial primary key, event_id uuid not null, aggregate text not null, seq int not null)');
    const topic = `${uniqueName('faults').replace(/_/g, '-')}.Restarted`;
    await createTopics([topic]);
    const aggregates = 12;
    const perAggregate = 150;
    const total = aggregates * perAggregate;
    const registry = new Registry();
    const inbox = new InboxConsumer(
      // It owns its pool, as in production: idle clients die with the server too.
      { name: 'restarted', groupId: uniqueName('faults-inbox'), topics: [topic], connectionString: server.url, kafka: { brokers: testEnv().kafkaBrokers }, maxBatchEvents: 50, retryBackoffMs: 50 },
      {
        logger: quietLogger,
        registry,
        handler: async (event, client) => {
          const { seq } = event.payload as { seq: number };
          await client.query('insert into inbox_applied (event_id, aggregate, seq) values ($1, $2, $3)', [event.id, event.aggregateId, seq]);
        },
      },
    );
    const publisher = new KafkaPublisher({ brokers: testEnv().kafkaBrokers, clientId: 'faults-inbox-writer' }, { logger: quietLogger });
    await publisher.connect();
    await inbox.start();
    const applied = async () => Number((await pool.query('select count(*)::int as n from inbox_applied').catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n);
    try {
      const producing = (async () => {
        for (let seq = 0; seq < perAggregate; seq += 1) {
          await publisher.send(
            Array.from({ length: aggregates }, (_, aggregate) => ({ topic, key: `a-${aggregate}`, value: JSON.stringify({ seq }), headers: { id: randomUUID(), type: 'Changed' } })),
          );
          await sleep(10);
        }
      })();
      await eventually(async () => (await applied()) >= total / 4, 30_000, 'a quarter of the events applied');
      // Down for 4 s; five attempts 50, 100, 200 and 400 ms apart would give up on an event after 0.75 s.
      await server.restart('immediate', 4_000);
      await producing;
      await eventually(async () => (await applied()) >= total, 60_000, 'every event applied');
      const rows = (await pool.query<{ aggregate: string; seq: number }>('select aggregate, seq from inbox_applied order by n')).rows;
      expect(rows).toHaveLength(total);
      const last = new Map<string, number>();
      for (const { aggregate, seq } of rows) {
        expect({ aggregate, seq }).toEqual({ aggregate, seq: (last.get(aggregate) ?? -1) + 1 });
        last.set(aggregate, seq);
      }
      const { values } = await registry.getSingleMetric('strangler_sync_events_total')!.get();
      const byOutcome: Record<string, number> = {};
      for (const value of values) byOutcome[String(value.labels.outcome)] = (byOutcome[String(value.labels.outcome)] ?? 0) + value.value;
      expect(byOutcome.dlq ?? 0).toBe(0);
      // The outage hit it (it waited), and waiting spent none of any event's attempts.
      expect(byOutcome.retried ?? 0).toBe(0);
      const waited = await registry.getSingleMetric('strangler_sync_database_unavailable_total')!.get();
      expect(waited.values[0]?.value).toBeGreaterThan(0);
      expect(byOutcome.applied).toBe(total);
    } finally {
      await inbox.stop();
      await publisher.disconnect();
      await pool.query('drop table if exists inbox_applied');
    }
  });

  it('a slot whose WAL was removed is refused by start() with SFG_OUTBOX_SLOT_LOST and kept; the documented recovery resumes publishing', async () => {
    await pool.query('truncate outbox');
    const options = testRelayOptions({ url: server.url }, { mode: 'cdc' });
    const topic = `${options.topicPrefix}Lost`;
    await createTopics([topic]);
    const append = async (seq: number) => {
      const client = await pool.connect();
      try {
        await appendMany(client, [{ aggregateType: 'Lost', aggregateId: 'l', type: 'Changed', payload: { seq } }]);
      } finally {
        client.release();
      }
    };

    const first = await startRelay(options);
    await append(0);
    expect((await collectRecords({ topics: [topic], count: 1, timeoutMs: 20_000 })).length).toBe(1);
    await first.relay.stop();

    // Events written while no relay runs, then more WAL than the slot may keep: a checkpoint invalidates the slot.
    await append(1);
    await pool.query('create table if not exists wal_filler (n int, pad text)');
    await eventually(
      async () => {
        await pool.query("insert into wal_filler select n, repeat('x', 200) from generate_series(1, 20000) n");
        await pool.query('select pg_switch_wal()');
        await pool.query('checkpoint');
        const [slot] = await server.query<{ wal_status: string }>('select wal_status from pg_replication_slots where slot_name = $1', [options.slotName]);
        return slot?.wal_status === 'lost';
      },
      60_000,
      "the slot's wal_status becoming lost",
      0,
    );

    const refused = createRelay(options, { logger: quietLogger, registry: new Registry() });
    const error = (await refused.start().then(
      () => undefined,
      (failure: unknown) => failure,
    )) as OutboxError | undefined;
    await refused.stop();
    expect(error?.code).toBe('SFG_OUTBOX_SLOT_LOST');
    expect(error?.message).toMatch(/docs\/outbox\.md/);
    expect(refused.isLeader).toBe(false);
    // Never recreated silently: the lost slot is still there for an operator to look at.
    expect(await server.query('select 1 from pg_replication_slots where slot_name = $1', [options.slotName])).toHaveLength(1);

    // Recovery as documented: reconcile the consumers (the application's part), then `strangler relay --reset-slot`.
    const config = writeRelayConfig(options);
    const reset = await runCli(['relay', '--config', config, '--reset-slot']);
    expect(reset).toMatchObject({ code: 0 });
    expect(reset.stdout).toContain(`slot ${options.slotName} dropped (wal_status was 'lost'), record removed`);
    expect(await server.query('select 1 from pg_replication_slots where slot_name = $1', [options.slotName])).toHaveLength(0);
    const second = await startRelay(options);
    try {
      expect(second.relay.isLeader).toBe(true);
      await append(2);
      const records = await collectRecords({ topics: [topic], count: 2, timeoutMs: 20_000, settleMs: 500 });
      // Event 1 was written while the lost slot held it: it is the gap the reconciliation must cover.
      expect(records.map((record) => (JSON.parse(record.value!) as { seq: number }).seq)).toEqual([0, 2]);
    } finally {
      await second.relay.stop();
    }
    try {
      // A healthy slot is never reset by accident: it still holds events for the next start.
      const refusedReset = await runCli(['relay', '--config', config, '--reset-slot']);
      expect(refusedReset.code).toBe(1);
      expect(refusedReset.stderr).toContain('[SFG_OUTBOX_SLOT_HEALTHY]');
      expect(await server.query('select 1 from pg_replication_slots where slot_name = $1', [options.slotName])).toHaveLength(1);
    } finally {
      await pool.query('drop table if exists wal_filler');
    }
  });
});
