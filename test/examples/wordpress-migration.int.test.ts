import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { startPostService, type RunningPostService } from '../../examples/wordpress/service/posts-service';
import { createTestDatabase, eventually, freePort, stranglerEnv, testMysqlUrl, TestProcesses, uniqueName, UnleashAdmin, type TestDatabase } from '../helpers';
import { startPrivateWordpress, WORDPRESS_COLD_START_MS, wpRest, type PrivateWordpress } from '../helpers/wordpress';

const ROOT = path.resolve(__dirname, '../..');
const EXAMPLE = path.join(ROOT, 'examples', 'wordpress');
const ADMIN_TOKEN = 'wordpress-migration-token';
/** The service's new posts count down from 2^52 - 1 (schema.sql's article_ids); WordPress's start at 2^52 here. */
const WORDPRESS_IDS_FROM = 2 ** 52;
const isServiceId = (id: number) => id >= 2 ** 51 && id < WORDPRESS_IDS_FROM;
/** WordPress editors with an application password each; four of them write at each step. */
const EDITORS = 10;
const WRITERS = 4;

type Side = 'wordpress' | 'service';
/** The parts of WordPress's post JSON (and an error's code) the test reads. */
interface PostJson {
  id?: number;
  slug?: string;
  status?: string;
  author?: number;
  code?: string;
  title?: { raw?: string };
  content?: { raw?: string };
}
interface Written {
  title: string;
  content: string;
  status: string;
  author: number;
  slug: string;
  /** Writes of this post that each side answered (the other side must have applied each). */
  writes: Record<Side, number>;
}

/**
 * Issue 38's end to end: WordPress 6.1 as Debian ships it behind `strangler proxy` (examples/wordpress/proxy.yaml), its
 * post REST routes moving to the post service in Postgres, with nothing but the CLI: `strangler relay --mode tables`
 * on WordPress's wp_posts (MariaDB's binlog, a user with only the replication privileges and SELECT), the service's
 * outbox relay, `strangler backfill` with the example's mapping.yaml, and `strangler sync --into service` and
 * `--into legacy` (a user with SELECT, INSERT, UPDATE, DELETE on wp_posts). Four sticky writers create, update twice
 * and read a post each at 0, 50, 100 and back to 0 %; at 100 % a post is also edited in WordPress directly. After each
 * step: `strangler verify` finds 0 drift, every post reads the same on both sides, every accepted write is on both,
 * each service write is applied once in WordPress and its capture skipped (no echo), 0 conflicts, and no request got
 * an answer it should not. Back at 0 %, WordPress's own page of each post shows its last change.
 */
describe('examples/wordpress: strangling an unmodified WordPress, 0 -> 50 -> 100 -> 0 %', () => {
  const unleash = new UnleashAdmin();
  const flag = uniqueName('wordpress-posts').replace(/_/g, '-');
  const relayName = uniqueName('wp_e2e').toLowerCase().slice(0, 40);
  const topicPrefix = uniqueName('wordpress').replace(/_/g, '-');
  const captureUser = uniqueName('sfg_wpcap').slice(0, 32);
  const syncUser = uniqueName('sfg_wpsync').slice(0, 32);
  const password = uniqueName('pw');
  let wordpress: PrivateWordpress;
  let admin: mysql.Connection;
  let workDir: string;
  let env: NodeJS.ProcessEnv;
  let posts: TestDatabase;
  let service: RunningPostService;
  let proxyUrl: string;
  let syncMetrics: Record<'legacy' | 'service', string>;
  const processes = new TestProcesses({ cwd: () => EXAMPLE, env: () => env });
  const written = new Map<number, Written>();
  /** Every answer through the proxy or straight from WordPress that was not the one the request should get. */
  const unexpected: string[] = [];
  const timings: Record<string, number> = {};

  const mysqlUrl = (user: string) => {
    const url = new URL(testMysqlUrl());
    Object.assign(url, { username: user, password, pathname: `/${wordpress.database}` });
    return url.toString();
  };
  /** A REST call below /wp-json/wp/v2; WordPress's PHP says so in X-Powered-By. */
  const call = async (base: string, method: string, route: string, authorization: string | undefined, body: unknown, expected: number) => {
    const response = await fetch(`${base}/wp-json/wp/v2${route}`, {
      method,
      headers: { ...(authorization ? { authorization } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const side: Side = response.headers.get('x-powered-by')?.startsWith('PHP/') ? 'wordpress' : 'service';
    const text = await response.text();
    if (response.status !== expected) unexpected.push(`${method} ${route} on ${side}: ${response.status} ${text.slice(0, 300)}`);
    return { status: response.status, side, body: (text === '' ? {} : JSON.parse(text)) as PostJson };
  };
  /** strangler_sync_events_total of one sync process for posts, summed by outcome; and its conflicts. */
  const syncCounts = async (into: 'legacy' | 'service') => {
    const text = await fetch(`${syncMetrics[into]}/metrics`).then((response) => response.text());
    const counts: Record<string, number> = {};
    for (const [, labels, value] of text.matchAll(/^strangler_sync_events_total\{([^}]*)\} (\S+)$/gm)) {
      const outcome = /outcome="(\w+)"/.exec(labels!)![1]!;
      if (labels!.includes('aggregatetype="post"')) counts[outcome] = (counts[outcome] ?? 0) + Number(value);
    }
    for (const [, value] of text.matchAll(/^strangler_sync_conflicts_total\{[^}]*\} (\S+)$/gm)) counts.conflicts = (counts.conflicts ?? 0) + Number(value);
    return counts;
  };
  const verifyClean = async () => {
    const verified = await processes.strangler(['verify', 'post', '--attempts', '30', '--interval-ms', '1000']);
    expect({ code: verified.code, stdout: verified.stdout.trim(), stderr: verified.stderr }).toEqual({
      code: 0,
      stdout: expect.stringMatching(/^post \(legacy (\d+) rows, \S+ \1 rows\): no drift$/),
      stderr: '',
    });
  };
  /** Each written post as WordPress and the service answer it (edit context, each straight, not through the proxy). */
  const bothSidesHold = async () => {
    const [writer] = wordpress.users;
    for (const [id, last] of written) {
      const expected = { id, title: last.title, content: last.content, status: last.status, author: last.author };
      for (const base of [wordpress.url, service.url]) {
        const read = await call(base, 'GET', `/posts/${id}?context=edit`, writer!.authorization, undefined, 200);
        expect({ base, id, title: read.body.title?.raw, content: read.body.content?.raw, status: read.body.status, author: read.body.author }).toEqual({ base, ...expected });
      }
    }
  };
  /**
   * The step's four writers: the first four editors, but at 50 % two of each side where the bucketing allows (the
   * credentials are new each run, so which side an editor sticks to is too). With ten editors, all on one side is one
   * run in 512.
   */
  const writersAt = async (percent: number) => {
    const editors = wordpress.users;
    if (percent !== 50) return editors.slice(0, WRITERS);
    const sides = await Promise.all(editors.map(async (editor) => (await call(proxyUrl, 'GET', '/posts?per_page=1', editor.authorization, undefined, 200)).side));
    const [onWordpress, onService] = (['wordpress', 'service'] as const).map((side) => editors.filter((_, index) => sides[index] === side));
    const chosen = [...onWordpress!.slice(0, WRITERS / 2), ...onService!.slice(0, WRITERS / 2)];
    return [...chosen, ...editors.filter((editor) => !chosen.includes(editor))].slice(0, WRITERS);
  };
  const writesBy = (side: Side) => [...written.values()].reduce((sum, post) => sum + post.writes[side], 0);

  beforeAll(async () => {
    const started = Date.now();
    wordpress = await startPrivateWordpress('wordpress-migration-test', EDITORS);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-wordpress-e2e-'));
    // What a team grants on WordPress's database: the capture user replicates and reads; the sync user reads and writes wp_posts.
    admin = await mysql.createConnection({ uri: testMysqlUrl() });
    for (const user of [captureUser, syncUser]) await admin.query('create user ?@? identified by ?', [user, '127.0.0.1', password]);
    await admin.query('grant replication slave, replication client on *.* to ?@?', [captureUser, '127.0.0.1']);
    await admin.query(`grant select on \`${wordpress.database}\`.* to ?@?`, [captureUser, '127.0.0.1']);
    await admin.query(`grant select, insert, update, delete on \`${wordpress.database}\`.wp_posts to ?@?`, [syncUser, '127.0.0.1']);

    // Once, before the service takes writes (examples/wordpress/README.md, "Ids"): WordPress's post ids continue
    // above the service's range, which counts down from 2^52 - 1. Without it, a write-back of a service id moves the
    // counter to that id + 1, which can be the id the service gave a post a moment earlier that is not written back
    // yet: WordPress's next post takes it and the two posts become one (seen here at 50 %, as a lost post).
    await admin.query(`alter table \`${wordpress.database}\`.wp_posts auto_increment = ${WORDPRESS_IDS_FROM}`);
    // Posts that predate the capture (what backfill is for): one published, one draft with WordPress's zero dates.
    for (const post of [
      { title: 'Before the capture', content: 'Old.', status: 'publish' },
      { title: 'A draft before the capture', content: 'Not yet.' },
    ]) {
      expect((await wpRest(wordpress.url, 'POST', '/posts', wordpress.users[0]!.authorization, post)).status).toBe(201);
    }

    posts = await createTestDatabase('sfg_wp_e2e');
    service = await startPostService({ databaseUrl: posts.url, siteUrl: wordpress.url, writers: wordpress.users.map(({ id, login, password }) => ({ id, login, password })) });

    // The example's mapping, with this run's topic prefix (the relay's --topic-prefix), its translators where they are.
    const mapping = path.join(workDir, 'mapping.yaml');
    const mappingText = fs.readFileSync(path.join(EXAMPLE, 'mapping.yaml'), 'utf8');
    expect(mappingText).toMatch(/^ {2}topicPrefix: wordpress\b/m);
    fs.writeFileSync(mapping, mappingText.replace(/^( {2}topicPrefix:) wordpress\b/m, `$1 ${topicPrefix}`).replace(/(translators:) \.\//g, `$1 ${EXAMPLE}/`));

    const [proxyPort, adminPort, legacyMetricsPort, serviceMetricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    proxyUrl = `http://127.0.0.1:${proxyPort}`;
    syncMetrics = { legacy: `http://127.0.0.1:${legacyMetricsPort}`, service: `http://127.0.0.1:${serviceMetricsPort}` };
    env = {
      ...stranglerEnv(adminPort, ADMIN_TOKEN),
      STRANGLER_MAPPING: mapping,
      STRANGLER_LEGACY_URL: mysqlUrl(syncUser),
      STRANGLER_SERVICE_URL: posts.url,
      OUTBOX_TOPIC_PREFIX: `${topicPrefix}.outbox.`,
      WORDPRESS_PROXY_PORT: String(proxyPort),
      WORDPRESS_ADMIN_PORT: String(adminPort),
      WORDPRESS_URL: wordpress.url,
      POSTS_URL: service.url,
      WORDPRESS_POSTS_FLAG: flag,
      WORDPRESS_FLAG_BACKUP_DIR: path.join(workDir, 'flags'),
      LOG_LEVEL: 'warn',
    };
    await unleash.createFlag(flag, { description: 'examples/wordpress: the post routes to the post service' });
    processes.stranglerDaemon('proxy', ['proxy', '--config', path.join(EXAMPLE, 'proxy.yaml')]);
    await eventually(() => fetch(`${env.STRANGLER_ADMIN_URL}/readyz`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.ok, () => false), 60_000, 'proxy /readyz');
    timings.setupMs = Date.now() - started;
  }, WORDPRESS_COLD_START_MS);

  afterAll(async () => {
    await processes.stopAll();
    await unleash.deleteFlag(flag).catch(() => undefined);
    await service?.close();
    await posts?.drop();
    for (const user of [captureUser, syncUser]) await admin?.query('drop user if exists ?@?', [user, '127.0.0.1']).catch(() => undefined);
    await admin?.end();
    await wordpress?.stop();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    process.stderr.write(`[wordpress-migration] timings ${JSON.stringify(timings)}\n`);
  }, 60_000);

  it('captures wp_posts, backfills what predates the capture with mapping.yaml, syncs both ways and verifies 0 drift', async () => {
    const started = Date.now();
    processes.stranglerDaemon('capture relay', ['relay', '--mode', 'tables', '--name', relayName, '--tables', `${wordpress.database}.wp_posts`, '--topic-prefix', topicPrefix, '--origin', 'legacy', '--metrics-port', '0'], {
      DATABASE_URL: mysqlUrl(captureUser),
    });
    processes.stranglerDaemon('service relay', ['relay', '--mode', 'polling', '--name', `${relayName}_posts`, '--metrics-port', '0'], { DATABASE_URL: posts.url });

    const before = await processes.strangler(['verify', 'post']);
    expect(before).toMatchObject({ code: 1, stdout: expect.stringMatching(/missing in/) });
    const backfilled = await processes.strangler(['backfill', 'post']);
    expect({ code: backfilled.code, stderr: backfilled.code === 0 ? '' : backfilled.stderr }).toEqual({ code: 0, stderr: '' });

    processes.stranglerDaemon('sync into service', ['sync', 'post', '--into', 'service', '--group-id', `${relayName}-service`, '--metrics-port', syncMetrics.service.split(':').pop()!]);
    processes.stranglerDaemon('sync into legacy', ['sync', 'post', '--into', 'legacy', '--group-id', `${relayName}-legacy`, '--metrics-port', syncMetrics.legacy.split(':').pop()!]);
    // The binlog relay streams from where the binlog is when it connects: a WordPress edit of a backfilled post,
    // repeated until one reaches the service, shows capture and sync running before any write is counted.
    const [seeded] = (await service.pool.query<{ id: string }>(`select id from articles where kind = 'post' and headline = 'Before the capture'`)).rows;
    expect(seeded).toBeDefined();
    let attempt = 0;
    await eventually(
      async () => {
        attempt += 1;
        const title = `Before the capture, edited ${attempt}`;
        const edited = await call(wordpress.url, 'POST', `/posts/${seeded!.id}`, wordpress.users[0]!.authorization, { title }, 200);
        expect(edited.status).toBe(200);
        return eventually(async () => (await service.pool.query('select 1 from articles where id = $1 and headline = $2', [seeded!.id, title])).rowCount === 1, 5_000, 'edit').then(
          () => true,
          () => false,
        );
      },
      90_000,
      'a WordPress edit captured and synced into the service',
      0,
    );
    written.set(Number(seeded!.id), { title: `Before the capture, edited ${attempt}`, content: 'Old.', status: 'publish', author: wordpress.users[0]!.id, slug: 'before-the-capture', writes: { wordpress: attempt, service: 0 } });
    await verifyClean();
    timings.captureAndBackfillMs = Date.now() - started;
  }, 240_000);

  it('moves the post routes 0 -> 50 -> 100 -> 0 % with sticky writers: 0 drift, 0 lost writes, 0 echoes, 0 unexpected answers', async () => {
    const sidesAt = new Map<number, Set<Side>>();
    const figures: Record<string, unknown>[] = [];
    let step = 0;
    for (const percent of [0, 50, 100, 0]) {
      step += 1;
      const stepStarted = Date.now();
      const flipped = await processes.strangler(['flip', 'posts', String(percent), '--wait-ms', '30000']);
      expect(flipped).toMatchObject({ code: 0, stdout: expect.stringContaining(`${flag}: flexibleRollout ${percent}% confirmed by Unleash`) });
      const countsBefore = { legacy: await syncCounts('legacy'), service: await syncCounts('service') };
      const writesBefore = { wordpress: writesBy('wordpress'), service: writesBy('service') };

      const sides = new Set<Side>();
      await Promise.all(
        (await writersAt(percent)).map(async (user) => {
          const seen = new Set<Side>();
          const title = `${user.login} at step ${step} (${percent} %)`;
          // A draft first (WordPress's zero dates), then published, then changed again.
          const created = await call(proxyUrl, 'POST', '/posts', user.authorization, { title, content: `Written by ${user.login}.` }, 201);
          expect({ status: created.status, code: created.body.code }).toEqual({ status: 201, code: undefined });
          const id = created.body.id as number;
          seen.add(created.side);
          const post: Written = { title, content: `Written by ${user.login}.`, status: 'draft', author: user.id, slug: '', writes: { wordpress: 0, service: 0 } };
          written.set(id, post);
          post.writes[created.side] += 1;
          for (const [round, change] of [
            { title: `${title}, change 1`, status: 'publish' },
            { title: `${title}, change 2`, content: `Changed twice by ${user.login}.` },
          ].entries()) {
            const updated = await call(proxyUrl, 'POST', `/posts/${id}`, user.authorization, change, 200);
            expect({ round, status: updated.status, code: updated.body.code }).toEqual({ round, status: 200, code: undefined });
            seen.add(updated.side);
            Object.assign(post, change);
            post.slug = updated.body.slug as string;
            post.writes[updated.side] += 1;
          }
          const read = await call(proxyUrl, 'GET', `/posts/${id}?context=edit`, user.authorization, undefined, 200);
          expect({ status: read.status, title: read.body.title?.raw, content: read.body.content?.raw, state: read.body.status }).toEqual({ status: 200, title: post.title, content: post.content, state: 'publish' });
          seen.add(read.side);
          // Sticky: one user, one side, for the whole step.
          expect([...seen]).toHaveLength(1);
          sides.add([...seen][0]!);
        }),
      );

      if (percent === 100) {
        // WordPress's own editors keep writing: a post the service wrote, once written back, edited in WordPress directly.
        const [id, post] = [...written.entries()].filter(([key, entry]) => isServiceId(key) && entry.writes.wordpress === 0).slice(-1)[0]!;
        const [editor] = wordpress.users;
        await eventually(async () => ((await wpRest(wordpress.url, 'GET', `/posts/${id}?context=edit`, editor!.authorization)).body as PostJson | undefined)?.title?.raw === post.title, 30_000, `post ${id} written back`);
        post.title = `${post.title}, edited in WordPress`;
        const edited = await call(wordpress.url, 'POST', `/posts/${id}`, editor!.authorization, { title: post.title }, 200);
        expect(edited.status).toBe(200);
        post.writes.wordpress += 1;
        await eventually(async () => (await service.pool.query('select 1 from articles where id = $1 and headline = $2', [String(id), post.title])).rowCount === 1, 30_000, `post ${id}'s WordPress edit in the service`);
        expect((await call(proxyUrl, 'GET', `/posts/${id}?context=edit`, editor!.authorization, undefined, 200)).body).toMatchObject({ title: { raw: post.title } });
      }
      sidesAt.set(percent, new Set([...(sidesAt.get(percent) ?? []), ...sides]));

      await verifyClean();
      await bothSidesHold();
      // Into WordPress: each service write once (applied, or stale when a later write of the same post came in the
      // same batch and carried it), and the capture of each write-back skipped as the service's own.
      const serviceWrites = writesBy('service') - writesBefore.service;
      const wordpressWrites = writesBy('wordpress') - writesBefore.wordpress;
      const delta = async (into: 'legacy' | 'service', outcome: string) => ((await syncCounts(into))[outcome] ?? 0) - (countsBefore[into][outcome] ?? 0);
      await eventually(async () => (await delta('legacy', 'applied')) + (await delta('legacy', 'stale')) >= serviceWrites, 30_000, `${serviceWrites} service writes handled in WordPress`).catch(async (error: Error) => {
        throw new Error(`${error.message}: into legacy ${JSON.stringify(await syncCounts('legacy'))} before ${JSON.stringify(countsBefore.legacy)}, into the service ${JSON.stringify(await syncCounts('service'))}`);
      });
      const appliedInWordpress = await delta('legacy', 'applied');
      await eventually(async () => (await delta('service', 'skipped')) >= appliedInWordpress, 30_000, `the capture of ${appliedInWordpress} write-backs skipped`);
      const counted = {
        step,
        handledInWordpress: appliedInWordpress + (await delta('legacy', 'stale')),
        writeBacksSkipped: await delta('service', 'skipped'),
        conflicts: (await delta('legacy', 'conflicts')) + (await delta('service', 'conflicts')),
        // An event the sync gave up on (its dead-letter topic) would be a lost write.
        deadLettered: (await delta('legacy', 'dlq')) + (await delta('service', 'dlq')),
      };
      expect(counted).toEqual({ step, handledInWordpress: serviceWrites, writeBacksSkipped: appliedInWordpress, conflicts: 0, deadLettered: 0 });
      // Into the service: WordPress's writes (each save also writes a revision row, its own aggregate), never a
      // write-back coming back: the posts only the service wrote are still the service's own rows.
      const appliedInService = await delta('service', 'applied');
      expect(appliedInService > 0).toBe(wordpressWrites > 0);
      const echoed = await service.pool.query<{ id: string }>(`select id from articles where id = any($1) and written_by <> 'articles'`, [
        [...written.entries()].filter(([, post]) => post.writes.wordpress === 0).map(([id]) => String(id)),
      ]);
      expect(echoed.rows).toEqual([]);
      expect(unexpected).toEqual([]);
      const revisions = await service.pool.query<{ id: string; revision: number }>('select id, revision from articles where id = any($1)', [[...written.keys()].map(String)]);
      const revisionOf = new Map(revisions.rows.map((row) => [Number(row.id), row.revision]));
      // Into the service, one applied change per WordPress commit at most: a REST save is several (the row, then its
      // guid), and the read-through may take two at once.
      const wordpressOnly = [...written.entries()].filter(([, post]) => post.writes.service === 0);
      const wordpressRevisions = { writes: wordpressOnly.reduce((sum, [, post]) => sum + post.writes.wordpress, 0), revisions: wordpressOnly.reduce((sum, [id]) => sum + (revisionOf.get(id) ?? 0), 0) };
      figures.push({ ...counted, percent, serviceWrites, wordpressWrites, appliedInWordpress, appliedInService, stale: await delta('legacy', 'stale'), wordpressRevisions, ms: Date.now() - stepStarted });
    }
    process.stderr.write(`[wordpress-migration] steps ${JSON.stringify(figures)}\n`);

    expect([...sidesAt.get(0)!]).toEqual(['wordpress']);
    expect([...sidesAt.get(50)!].sort()).toEqual(['service', 'wordpress']);
    expect([...sidesAt.get(100)!]).toEqual(['service']);
    expect([...written.keys()].filter(isServiceId).length).toBeGreaterThan(0);

    // Back at 0 %: WordPress's own page of each post, through the proxy, shows its last change.
    for (const [id, post] of written) {
      const page = await fetch(`${proxyUrl}/${post.slug}/`);
      const html = await page.text();
      expect({ id, status: page.status, title: html.includes(post.title), content: html.includes(post.content) }).toEqual({ id, status: 200, title: true, content: true });
    }
  }, 600_000);
});
