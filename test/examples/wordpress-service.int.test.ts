import path from 'node:path';
import { startPostService, type RunningPostService } from '../../examples/wordpress/service/posts-service';
import { loadMappingFile } from '../../sync';
import { createTestDatabase, testMysqlUrl, TestProcesses, uniqueName, type TestDatabase } from '../helpers';
import { testEnv } from '../helpers/env';
import { startPrivateWordpress, WORDPRESS_COLD_START_MS, wpRest, type PrivateWordpress } from '../helpers/wordpress';

const EXAMPLE_DIR = path.resolve(__dirname, '../../examples/wordpress');
/** The fields of a post both sides answer (view context); edit context adds the raw ones. */
const VIEW_FIELDS = ['id', 'date', 'date_gmt', 'guid', 'modified', 'modified_gmt', 'slug', 'status', 'type', 'link', 'title', 'content', 'excerpt', 'author', 'comment_status', 'ping_status', 'sticky', 'format'];
const EDIT_FIELDS = [...VIEW_FIELDS, 'password', 'permalink_template', 'generated_slug'];
const pick = (post: Record<string, unknown>, fields: string[]) => Object.fromEntries(fields.map((field) => [field, post[field]]));

/**
 * Step 2 of strangling WordPress (issue 38): the post service answers WordPress's post REST routes from a schema of
 * its own in Postgres. WordPress's posts reach it with `strangler backfill` and `strangler
 * verify` shows 0 drift (both with mapping.yaml, its legacy side captured); then each post reads the same on both sides, and the
 * same writes get the same answers. The WordPress is this file's own (test/helpers/wordpress.ts).
 */
describe('examples/wordpress: the post service answers as WordPress does', () => {
  let wordpress: PrivateWordpress;
  let database: TestDatabase;
  let service: RunningPostService;
  const processes = new TestProcesses({ cwd: () => EXAMPLE_DIR, env: () => ({ ...process.env, KAFKA_BROKERS: testEnv().kafkaBrokers.join(',') }) });
  const legacyUrl = () => {
    const url = new URL(testMysqlUrl());
    url.pathname = `/${wordpress.database}`;
    return url.toString();
  };
  const migration = (command: string, mapping: string) => processes.strangler([command, 'post', '--mapping', mapping, '--legacy', legacyUrl(), '--service', database.url]);
  /** Posts written in WordPress before the backfill: published, a draft, an excerpt, typography, comments closed. */
  const seeded: Record<string, unknown>[] = [];

  beforeAll(async () => {
    wordpress = await startPrivateWordpress('wordpress-service-test');
    database = await createTestDatabase('sfg_wp_posts');
    service = await startPostService({
      databaseUrl: database.url,
      siteUrl: wordpress.url,
      writers: [wordpress.admin, ...wordpress.users].map(({ id, login, password }) => ({ id, login, password })),
    });
    const [writer] = wordpress.users;
    const marker = uniqueName('seed');
    for (const post of [
      { title: `Published ${marker}`, content: 'First paragraph.\n\nSecond paragraph,\nwith a line break.', status: 'publish' },
      { title: `Draft ${marker}`, content: 'Not yet.' },
      { title: `It's an excerpt... ${marker}`, content: 'Body - with a dash.', excerpt: 'A summary of my own.', status: 'publish', comment_status: 'closed' },
      { title: `Changed later ${marker}`, content: 'Before.', status: 'publish' },
    ]) {
      const created = await wpRest(wordpress.url, 'POST', '/posts', writer!.authorization, post);
      expect(created.status).toBe(201);
      seeded.push(created.body);
    }
    const changed = await wpRest(wordpress.url, 'POST', `/posts/${seeded[3]!.id}`, writer!.authorization, { content: 'After.' });
    expect(changed.status).toBe(200);
  }, WORDPRESS_COLD_START_MS);

  afterAll(async () => {
    await processes.stopAll();
    await service?.close();
    await database?.drop();
    await wordpress?.stop();
  });

  it('copies every wp_posts row with strangler backfill; strangler verify then shows 0 drift', async () => {
    const before = await migration('verify', 'mapping.yaml');
    expect(before.code).toBe(1);
    expect(before.stdout + before.stderr).toMatch(/missing in/);

    const backfill = await migration('backfill', 'mapping.yaml');
    expect({ code: backfill.code, stderr: backfill.code === 0 ? '' : backfill.stderr }).toEqual({ code: 0, stderr: '' });
    const after = await migration('verify', 'mapping.yaml');
    expect({ code: after.code, output: after.stdout.trim() }).toEqual({ code: 0, output: expect.stringMatching(/^post \(legacy (\d+) rows, \S+ \1 rows\): no drift$/) });

    // Every row came, of every post type (no row filter), in the service's own shape.
    const { rows } = await service.pool.query<{ kind: string }>('select distinct kind from articles order by kind');
    expect(rows.map((row) => row.kind)).toEqual(expect.arrayContaining(['page', 'post', 'revision']));
  });

  it('answers GET /posts/:id for each copied post as WordPress does, in view and edit context', async () => {
    const [writer] = wordpress.users;
    for (const post of seeded) {
      for (const [query, authorization, fields] of [
        ['', undefined, VIEW_FIELDS],
        ['?context=edit', writer!.authorization, EDIT_FIELDS],
      ] as const) {
        const route = `/posts/${post.id}${query}`;
        const [onWordpress, onService] = await Promise.all([wpRest(wordpress.url, 'GET', route, authorization), wpRest(service.url, 'GET', route, authorization)]);
        if (post.status !== 'publish' && !authorization) {
          expect([route, onWordpress.status, onService.body]).toEqual([route, 401, onWordpress.body]);
          continue;
        }
        expect([route, onService.status]).toEqual([route, onWordpress.status]);
        expect([route, pick(onService.body, fields)]).toEqual([route, pick(onWordpress.body, fields)]);
        // Keys in WordPress's order, for those the service answers.
        const served = Object.keys(onService.body);
        expect(Object.keys(onWordpress.body).filter((key) => served.includes(key))).toEqual(served);
      }
    }
  });

  it('lists posts as WordPress does: newest first, X-WP-Total and X-WP-TotalPages, by author, drafts only with credentials', async () => {
    const [writer] = wordpress.users;
    // Posts of the same second come in MySQL's order on WordPress (ORDER BY post_date only), by id on the service:
    // compared as sets in date order.
    const inDateOrder = (posts: Record<string, unknown>[]) =>
      posts.map((post) => pick(post, VIEW_FIELDS)).sort((a, b) => String(b.date).localeCompare(String(a.date)) || Number(b.id) - Number(a.id));
    for (const [query, authorization] of [
      [`?author=${writer!.id}&per_page=2`, undefined],
      [`?author=${writer!.id}&per_page=100`, undefined],
      [`?author=${writer!.id}&status=draft`, writer!.authorization],
      ['?per_page=100', undefined],
    ] as const) {
      const [onWordpress, onService] = await Promise.all([wpRest(wordpress.url, 'GET', `/posts${query}`, authorization), wpRest(service.url, 'GET', `/posts${query}`, authorization)]);
      expect([query, onService.status, onService.headers.get('x-wp-total'), onService.headers.get('x-wp-totalpages')]).toEqual([
        query,
        onWordpress.status,
        onWordpress.headers.get('x-wp-total'),
        onWordpress.headers.get('x-wp-totalpages'),
      ]);
      const dates = onService.body.map((post) => String(post.date));
      expect(dates).toEqual([...dates].sort().reverse());
      if (!query.includes('per_page=2')) expect([query, inDateOrder(onService.body)]).toEqual([query, inDateOrder(onWordpress.body)]);
    }
    const anonymousDrafts = await Promise.all([wordpress.url, service.url].map((base) => wpRest(base, 'GET', '/posts?status=draft')));
    expect(anonymousDrafts.map(({ status, body }) => [status, body.code])).toEqual([
      [400, 'rest_invalid_param'],
      [400, 'rest_invalid_param'],
    ]);
  });

  it('creates and updates a post with the same answers as WordPress, and writes its outbox row in the same transaction', async () => {
    const [, writer] = wordpress.users;
    const title = `Written on both ${uniqueName('post')}`;
    const both = (method: string, route: (base: string) => string, body?: unknown, authorization: string | undefined = writer!.authorization) =>
      Promise.all([wordpress.url, service.url].map((base) => wpRest(base, method, route(base), authorization, body)));
    const comparable = (post: Record<string, unknown>) => {
      const { id: _id, date: _date, date_gmt: _dateGmt, modified: _modified, modified_gmt: _modifiedGmt, guid: _guid, link: _link, ...rest } = pick(post, EDIT_FIELDS);
      return rest;
    };

    const created = await both('POST', () => '/posts', { title, content: 'One.\n\nTwo.', status: 'publish' });
    expect(created.map(({ status }) => status)).toEqual([201, 201]);
    expect(comparable(created[1]!.body)).toEqual(comparable(created[0]!.body));
    expect(created[1]!.headers.get('location')).toBe(`${wordpress.url}/wp-json/wp/v2/posts/${created[1]!.body.id}`);
    expect(created[1]!.body).toMatchObject({ author: writer!.id, slug: expect.stringMatching(/^written-on-both-/), link: `${wordpress.url}/${created[1]!.body.slug}/` });
    expect(created[1]!.body.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    const ids = created.map(({ body }) => body.id as number);

    const updated = await both('POST', (base) => `/posts/${ids[base === service.url ? 1 : 0]}`, { title: `${title} (changed)`, excerpt: 'Short.' });
    expect(updated.map(({ status }) => status)).toEqual([200, 200]);
    expect(comparable(updated[1]!.body)).toEqual(comparable(updated[0]!.body));
    const draft = await both('POST', () => '/posts', { title: `${title} draft`, content: 'Later.' });
    expect(comparable(draft[1]!.body)).toEqual(comparable(draft[0]!.body));
    expect(draft[1]!.body).toMatchObject({ status: 'draft', slug: '', link: `${wordpress.url}/?p=${draft[1]!.body.id}` });

    const { rows } = await service.pool.query('select type, headers from outbox where aggregateid = $1 order by created_at', [String(ids[1])]);
    expect(rows).toEqual([
      { type: 'PostCreated', headers: { origin: 'articles', version: '1' } },
      { type: 'PostChanged', headers: { origin: 'articles', version: '2' } },
    ]);
  });

  it('refuses as WordPress does: empty posts, no or wrong credentials, unknown ids, invalid statuses', async () => {
    const [writer] = wordpress.users;
    const wrong = `Basic ${Buffer.from(`${writer!.login}:not the password`).toString('base64')}`;
    for (const [method, route, authorization, body] of [
      ['POST', '/posts', writer!.authorization, {}],
      ['POST', '/posts', undefined, { title: 'x' }],
      ['POST', '/posts', wrong, { title: 'x' }],
      ['GET', '/posts/999999999', undefined, undefined],
      ['POST', '/posts/999999999', writer!.authorization, { title: 'x' }],
      ['POST', `/posts/${seeded[0]!.id}`, undefined, { title: 'x' }],
      ['GET', `/posts/${seeded[0]!.id}?context=edit`, undefined, undefined],
      ['POST', '/posts', writer!.authorization, { title: 'x', status: 'nonsense' }],
    ] as const) {
      const [onWordpress, onService] = await Promise.all([wordpress.url, service.url].map((base) => wpRest(base, method, route, authorization, body)));
      const essentials = (answer: Awaited<ReturnType<typeof wpRest>>) => [answer.status, answer.body.code, answer.body.code === 'rest_invalid_param' ? undefined : answer.body.message];
      expect([method, route, ...essentials(onService!)]).toEqual([method, route, ...essentials(onWordpress!)]);
    }
  });

  it("translates a service article back into wp_posts' shape: a floating draft date as WordPress's zero date", async () => {
    const post = loadMappingFile(path.join(EXAMPLE_DIR, 'mapping.yaml')).aggregates.get('post')!;
    const { rows } = await service.pool.query(`select * from articles where id = $1`, [String(seeded[1]!.id)]);
    const [row] = rows as Record<string, unknown>[];
    const article = { id: row!.id, kind: row!.kind, state: row!.state, authorId: row!.author_id, headline: row!.headline, body: row!.body, summary: row!.summary,
      handle: row!.handle, secret: row!.secret, commentsOpen: row!.comments_open, pingsOpen: row!.pings_open, permalinkGuid: row!.permalink_guid,
      publishedAt: null, publishedWall: (row!.published_wall as Date).toISOString(), editedAt: (row!.edited_at as Date | null)?.toISOString() ?? null,
      editedWall: (row!.edited_wall as Date).toISOString(), revision: 1 };
    expect(post.toLegacy(article)).toMatchObject({ ID: article.id, post_type: 'post', post_status: 'draft', post_date_gmt: '0000-00-00 00:00:00', comment_status: 'open', to_ping: '', post_content_filtered: '' });
  });
});
