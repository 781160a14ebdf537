import path from 'node:path';
import mysql from 'mysql2/promise';
import { eventually, testEnv, testMysqlUrl, TestProcesses, uniqueName } from '../helpers';
import { testKafka } from '../helpers/kafka';
import { createTopics } from '../outbox/support';
import { startPrivateWordpress, WORDPRESS_COLD_START_MS, wpRest, type PrivateWordpress } from '../helpers/wordpress';

interface ChangeEvent {
  op: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: Record<string, unknown>;
}

/**
 * The first piece of the WordPress migration (issue 38) that needs no sync: `strangler relay --mode tables` captures
 * WordPress's own wp_posts from MariaDB's binlog, as a user with only the replication privileges and SELECT on
 * WordPress's database, with nothing added to that database. A post written through WordPress's REST API arrives as
 * Debezium's MySQL envelope under the mapping's topic, and so do the revision rows WordPress writes beside it.
 */
describe("examples/wordpress: WordPress's wp_posts captured from MariaDB's binlog", () => {
  let wordpress: PrivateWordpress;
  let admin: mysql.Connection;
  const captureUser = uniqueName('sfg_wpcap').slice(0, 32);
  const password = uniqueName('pw');
  const topicPrefix = uniqueName('wordpress').replace(/_/g, '-');
  const relayName = uniqueName('wpcap').toLowerCase().slice(0, 40);
  let topic: string;
  let relay: ReturnType<TestProcesses['stranglerDaemon']>;
  const events: ChangeEvent[] = [];
  const consumer = testKafka('wordpress-capture-test').consumer({ groupId: uniqueName('wordpress-capture'), maxWaitTimeInMs: 100 });
  const processes = new TestProcesses({ cwd: () => path.resolve(__dirname, '../..'), env: () => process.env });

  beforeAll(async () => {
    wordpress = await startPrivateWordpress('wordpress-capture-test', 1);
    admin = await mysql.createConnection({ uri: testMysqlUrl() });
    await admin.query('create user ?@? identified by ?', [captureUser, '127.0.0.1', password]);
    await admin.query('grant replication slave, replication client on *.* to ?@?', [captureUser, '127.0.0.1']);
    await admin.query(`grant select on \`${wordpress.database}\`.* to ?@?`, [captureUser, '127.0.0.1']);
    topic = `${topicPrefix}.${wordpress.database}.wp_posts`;
    await createTopics([topic], 1);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void (message.value && events.push(JSON.parse(message.value.toString()) as ChangeEvent)) });

    const url = new URL(testMysqlUrl());
    Object.assign(url, { username: captureUser, password, pathname: `/${wordpress.database}` });
    relay = processes.stranglerDaemon(
      'capture relay',
      ['relay', '--mode', 'tables', '--name', relayName, '--tables', `${wordpress.database}.wp_posts`, '--topic-prefix', topicPrefix, '--origin', 'legacy', '--metrics-port', '0'],
      { DATABASE_URL: url.toString(), KAFKA_BROKERS: testEnv().kafkaBrokers.join(','), LOG_LEVEL: 'warn' },
    );
  }, WORDPRESS_COLD_START_MS);

  afterAll(async () => {
    await processes.stopAll();
    await consumer.disconnect().catch(() => undefined);
    await admin?.query('drop user if exists ?@?', [captureUser, '127.0.0.1']).catch(() => undefined);
    await admin?.end();
    await wordpress?.stop();
  }, 60_000);

  it('streams a post WordPress creates and changes, with its revision rows, as Debezium MySQL change events', async () => {
    const [writer] = wordpress.users;
    // The relay streams from where the binlog is when it starts: write probes until one arrives.
    await eventually(
      async () => {
        if (relay.exitCode !== null) throw new Error(`the relay exited (${relay.exitCode}): ${processes.output('capture relay')}`);
        const probe = await wpRest(wordpress.url, 'POST', '/posts', writer!.authorization, { title: uniqueName('probe'), status: 'draft' });
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return events.some((event) => event.after?.ID === probe.body.id);
      },
      60_000,
      'a captured post',
      0,
    );
    const title = `Captured ${uniqueName('post')}`;
    const created = await wpRest(wordpress.url, 'POST', '/posts', writer!.authorization, { title, content: 'One.', status: 'publish' });
    const updated = await wpRest(wordpress.url, 'POST', `/posts/${created.body.id}`, writer!.authorization, { title: `${title} (changed)` });
    expect([created.status, updated.status]).toEqual([201, 200]);

    const ofPost = await eventually(() => {
      const found = events.filter((event) => (event.after ?? event.before)?.ID === created.body.id);
      return found.some((event) => event.after?.post_title === `${title} (changed)`) ? found : undefined;
    }, 30_000, `the change of post ${created.body.id}`);
    expect(ofPost[0]).toMatchObject({
      op: 'c',
      before: null,
      after: { ID: created.body.id, post_type: 'post', post_status: 'publish', post_title: title, post_author: writer!.id, post_content: 'One.' },
      source: { connector: 'mariadb', db: wordpress.database, table: 'wp_posts' },
    });
    const last = ofPost[ofPost.length - 1]!;
    expect(last).toMatchObject({ op: 'u', before: { ID: created.body.id }, after: { post_title: `${title} (changed)`, post_type: 'post' } });
    // WordPress keeps a revision row per save: captured too, kind 'revision' in the service (no row filter).
    // A draft's floating date: WordPress's zero date arrives as null (as verify and backfill read it), a DATETIME as
    // Debezium's Timestamp (milliseconds since the epoch, the wall clock read as UTC).
    const draft = events.find((event) => event.op === 'c' && event.after?.post_status === 'draft')!;
    expect(draft.after).toMatchObject({ post_date_gmt: null, post_modified_gmt: null, post_date: expect.any(Number) });
    await eventually(() => events.some((event) => event.after?.post_type === 'revision' && event.after?.post_parent === created.body.id), 30_000, 'a revision row');
  });
});
