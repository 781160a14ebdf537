import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { eventually, testEnv, uniqueName, type TestDatabase } from '../helpers';
import { createOutboxDatabase, createTopics, startRelay, testRelayOptions, writeWorkload, type Workload } from './support';

const MEMBER_SCRIPT = path.join(__dirname, 'fixtures', 'inbox-member.ts');
const PARTITIONS = 6;
const SESSION_TIMEOUT_MS = 6_000;

/** Polls `read` until `done` holds; the failure names the last value read. */
async function waitUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  let last: T | undefined;
  await eventually(async () => done((last = await read())), timeoutMs, what).catch((error: Error) => {
    throw new Error(`${error.message}; last read: ${JSON.stringify(last)}`);
  });
  return last!;
}

interface Member {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

function spawnMember(name: string, env: Record<string, string>): Member {
  // node itself, not the tsx wrapper (which forks): the kill -9 must hit the consumer.
  const child = spawn(process.execPath, ['--import', 'tsx', MEMBER_SCRIPT], {
    env: { ...process.env, ...env, MEMBER: name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, exited, output: () => output };
}

describe.each([
  ['each partition on its own', '0'],
  ['coalesced across partitions, fetched ahead', '1'],
])('inbox consumers in one group (3 processes, 6 partitions, real Postgres and Kafka), %s', (_mode, coalesced) => {
  let db: TestDatabase;
  const members: Member[] = [];
  beforeAll(async () => {
    db = await createOutboxDatabase('sfg_inbox_group', { max: 8 });
    await db.pool.query(
      `create table applied (id bigserial primary key, aggregate text not null, seq int not null, partition int not null,
         member text not null, applied_at timestamptz not null default clock_timestamp())`,
    );
  });
  afterAll(async () => {
    for (const member of members) {
      member.child.kill('SIGKILL');
      await member.exited;
    }
    await db.drop();
  });

  it('share the partitions; one killed -9 mid-stream: every event applied once in effect, each aggregate in order', async () => {
    const options = testRelayOptions(db, { topics: { partitions: PARTITIONS } });
    const workload: Workload = { aggregateType: 'Account', aggregates: 60, eventsPerAggregate: 200, writers: 3, perTransaction: 10, pauseMs: 25 };
    const total = workload.aggregates * workload.eventsPerAggregate;
    const topic = `${options.topicPrefix}${workload.aggregateType}`;
    const consumer = uniqueName('group');
    const { relay } = await startRelay(options);
    try {
      const env = {
        DATABASE_URL: db.url,
        KAFKA_BROKERS: testEnv().kafkaBrokers.join(','),
        TOPIC: topic,
        TOPIC_PREFIX: options.topicPrefix,
        GROUP_ID: consumer,
        CONSUMER: consumer,
        SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
        COALESCED: coalesced,
      };
      await createTopics([topic], PARTITIONS);
      for (const name of ['m1', 'm2', 'm3']) members.push(spawnMember(name, env));
      // The writes start once every member has subscribed, so the group settles while they still run.
      for (const member of members) await eventually(() => member.output().includes('"started"'), 60_000, `${member.name} subscribed`);
      let killed!: () => void;
      const lastTransactionAfter = new Promise<void>((resolve) => (killed = resolve));
      let writing = true;
      const writes = writeWorkload(db.pool, workload, { lastTransactionAfter }).finally(() => (writing = false));

      // All three hold partitions: each applied events in the last two seconds.
      const activeMembers = async () =>
        (await db.pool.query<{ member: string }>(`select distinct member from applied where applied_at > clock_timestamp() - interval '2 seconds'`)).rows
          .map((row) => row.member)
          .sort();
      await waitUntil(activeMembers, (active) => active.length === 3, 60_000, 'all three members applying events');

      const victim = members[1]!;
      victim.child.kill('SIGKILL');
      await victim.exited;
      // Read once it is gone: every row it committed is visible, and any later row is a survivor's.
      const victimPartitions = (
        await db.pool.query<{ partition: number }>(
          `select distinct partition from applied where member = $1 and applied_at > clock_timestamp() - interval '2 seconds' order by 1`,
          [victim.name],
        )
      ).rows.map((row) => row.partition);
      const lastIdAtKill = (await db.pool.query<{ last_id: string }>('select max(id)::text as last_id from applied')).rows[0]!.last_id;
      expect(writing).toBe(true);
      killed();

      const progress = async () => (await db.pool.query<{ n: number }>('select count(distinct (aggregate, seq))::int as n from applied')).rows[0]!.n;
      await waitUntil(progress, (applied) => applied === total, 120_000, `all ${total} events applied`);
      expect(await writes).toBe(total);

      const { rows: [counts] } = await db.pool.query<{ applied: number; distinct_events: number; inbox: number }>(
        `select (select count(*)::int from applied) as applied,
                (select count(distinct (aggregate, seq))::int from applied) as distinct_events,
                (select count(*)::int from inbox where consumer = $1) as inbox`,
        [consumer],
      );
      expect(counts).toEqual({ applied: total, distinct_events: total, inbox: total });

      // Per aggregate, in the order the rows were written: 0, 1, 2, ... with nothing out of place.
      const { rows: outOfOrder } = await db.pool.query<{ aggregate: string }>(
        `select aggregate from (
           select aggregate, seq, row_number() over (partition by aggregate order by id) - 1 as position from applied
         ) ordered where seq <> position group by aggregate`,
      );
      expect(outOfOrder).toEqual([]);

      // The survivors took over the victim's partitions and applied what it left.
      expect(victimPartitions.length).toBeGreaterThan(0);
      const { rows: [takeover] } = await db.pool.query<{ n: number; members: string[] }>(
        `select count(*)::int as n, array_agg(distinct member) as members from applied where id > $1 and partition = any($2::int[])`,
        [lastIdAtKill, victimPartitions],
      );
      expect(takeover!.n).toBeGreaterThan(0);
      expect(takeover!.members).not.toContain(victim.name);
      const applying = (await db.pool.query<{ member: string }>('select distinct member from applied where id > $1 order by 1', [lastIdAtKill])).rows;
      expect(applying.map((row) => row.member)).toEqual(['m1', 'm3']);
    } finally {
      await relay.stop();
    }
  }, 240_000);
});
