import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostService, type RunningPostService } from '../../examples/wordpress/service/posts-service';
import { createTestDatabase, eventually, freePort, stranglerEnv, testMysqlUrl, TestProcesses, uniqueName, UnleashAdmin, type TestDatabase } from '../helpers';
import { startPrivateWordpress, WORDPRESS_COLD_START_MS, type PrivateWordpress } from '../helpers/wordpress';

const EXAMPLE_DIR = path.resolve(__dirname, '../../examples/wordpress');
const ADMIN_TOKEN = 'wordpress-proxy-test-token';
type Side = 'wordpress' | 'service';

/**
 * Step 3 of strangling WordPress (issue 38): `strangler proxy` with examples/wordpress/proxy.yaml in front of
 * WordPress and the post service (which holds WordPress's posts after the first backfill). The post routes follow
 * the flag: at 0 % WordPress answers every user, at 100 % the service does (the same JSON for the same post), at
 * 50 % each user sticks to one side; every other route stays on WordPress. No sync runs here: that is the migration
 * test's (README.md), once the sync writes into MySQL.
 */
describe('examples/wordpress: the proxy moves the post routes between WordPress and the service with one flag', () => {
  let wordpress: PrivateWordpress;
  let database: TestDatabase;
  let service: RunningPostService;
  let workDir: string;
  let proxyUrl: string;
  let env: NodeJS.ProcessEnv;
  const unleash = new UnleashAdmin();
  const flag = uniqueName('wordpress.posts');
  const processes = new TestProcesses({ cwd: () => EXAMPLE_DIR, env: () => env });
  /** A request through the proxy (or to a side), and which side answered: WordPress's PHP says so in X-Powered-By. */
  const call = async (base: string, method: string, route: string, authorization?: string, body?: unknown) => {
    const response = await fetch(`${base}${route}`, {
      method,
      headers: { ...(authorization ? { authorization } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const side: Side = response.headers.get('x-powered-by')?.startsWith('PHP/') ? 'wordpress' : 'service';
    return { status: response.status, side, body: (await response.json()) as Record<string, unknown> & Record<string, unknown>[] };
  };
  const flip = async (percent: number) => {
    const flipped = await processes.strangler(['flip', 'posts', String(percent), '--wait-ms', '30000']);
    expect(flipped).toMatchObject({ code: 0, stdout: expect.stringContaining(`${flag}: flexibleRollout ${percent}% confirmed by Unleash`) });
  };
  let postId: number;

  beforeAll(async () => {
    wordpress = await startPrivateWordpress('wordpress-proxy-test', 4);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-wordpress-proxy-'));
    database = await createTestDatabase('sfg_wp_proxy_posts');
    service = await startPostService({ databaseUrl: database.url, siteUrl: wordpress.url, writers: wordpress.users.map(({ id, login, password }) => ({ id, login, password })) });
    const created = await call(wordpress.url, 'POST', '/wp-json/wp/v2/posts', wordpress.users[0]!.authorization, { title: `Behind the proxy ${uniqueName('post')}`, content: 'Read me.', status: 'publish' });
    expect(created.status).toBe(201);
    postId = created.body.id as number;

    const [proxyPort, adminPort] = [await freePort(), await freePort()];
    proxyUrl = `http://127.0.0.1:${proxyPort}`;
    env = {
      ...stranglerEnv(adminPort, ADMIN_TOKEN),
      WORDPRESS_PROXY_PORT: String(proxyPort),
      WORDPRESS_ADMIN_PORT: String(adminPort),
      WORDPRESS_URL: wordpress.url,
      POSTS_URL: service.url,
      WORDPRESS_POSTS_FLAG: flag,
      WORDPRESS_FLAG_BACKUP_DIR: path.join(workDir, 'flags'),
      LOG_LEVEL: 'warn',
    };
    const legacy = new URL(testMysqlUrl());
    legacy.pathname = `/${wordpress.database}`;
    const backfill = await processes.strangler(['backfill', 'post', '--mapping', 'mapping.yaml', '--legacy', legacy.toString(), '--service', database.url]);
    expect({ code: backfill.code, stderr: backfill.code === 0 ? '' : backfill.stderr }).toEqual({ code: 0, stderr: '' });

    await unleash.createFlag(flag, { description: 'examples/wordpress: the post routes to the post service' });
    processes.stranglerDaemon('proxy', ['proxy', '--config', path.join(EXAMPLE_DIR, 'proxy.yaml')]);
    await eventually(() => fetch(`${env.STRANGLER_ADMIN_URL}/readyz`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.ok, () => false), 60_000, 'proxy /readyz');
  }, WORDPRESS_COLD_START_MS);

  afterAll(async () => {
    await processes.stopAll();
    await unleash.deleteFlag(flag).catch(() => undefined);
    await service?.close();
    await database?.drop();
    await wordpress?.stop();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  }, 60_000);

  /** Each user's side for the post routes (a read of the post and of the list), once every user reads from `expected`. */
  const sidesOf = async (expected?: Side) =>
    eventually(
      async () => {
        const sides = await Promise.all(
          wordpress.users.map(async (user) => {
            const [one, list] = [await call(proxyUrl, 'GET', `/wp-json/wp/v2/posts/${postId}`, user.authorization), await call(proxyUrl, 'GET', '/wp-json/wp/v2/posts?per_page=5', user.authorization)];
            expect([one.status, list.status]).toEqual([200, 200]);
            return one.side === list.side ? one.side : undefined;
          }),
        );
        return sides.every((side) => side !== undefined && (expected === undefined || side === expected)) ? (sides as Side[]) : undefined;
      },
      20_000,
      `every user's post routes on ${expected ?? 'one side'}`,
    );

  it('at 0 %: WordPress answers the post routes for every user, and every other route', async () => {
    await flip(0);
    expect(await sidesOf('wordpress')).toHaveLength(4);
    const created = await call(proxyUrl, 'POST', '/wp-json/wp/v2/posts', wordpress.users[1]!.authorization, { title: 'Written through the proxy at 0 %', status: 'publish' });
    expect(created).toMatchObject({ status: 201, side: 'wordpress' });
    expect(await call(proxyUrl, 'GET', '/wp-json/wp/v2/users/me', wordpress.users[1]!.authorization)).toMatchObject({ status: 200, side: 'wordpress', body: { id: wordpress.users[1]!.id } });
  });

  it('at 100 %: the service answers the post routes with the same JSON for the same post; other routes stay on WordPress', async () => {
    await flip(100);
    expect(await sidesOf('service')).toHaveLength(4);
    const [writer] = wordpress.users;
    const [throughProxy, direct] = [await call(proxyUrl, 'GET', `/wp-json/wp/v2/posts/${postId}?context=edit`, writer!.authorization), await call(wordpress.url, 'GET', `/wp-json/wp/v2/posts/${postId}?context=edit`, writer!.authorization)];
    expect(throughProxy.side).toBe('service');
    const fields = ['id', 'date', 'date_gmt', 'modified', 'modified_gmt', 'slug', 'status', 'type', 'link', 'title', 'content', 'excerpt', 'author', 'guid'];
    const pick = (post: Record<string, unknown>) => Object.fromEntries(fields.map((field) => [field, post[field]]));
    expect(pick(throughProxy.body)).toEqual(pick(direct.body));

    const created = await call(proxyUrl, 'POST', '/wp-json/wp/v2/posts', writer!.authorization, { title: 'Written through the proxy at 100 %', status: 'publish' });
    expect(created).toMatchObject({ status: 201, side: 'service' });
    const { rows } = await service.pool.query('select kind, state, headline from articles where id = $1', [String(created.body.id)]);
    expect(rows).toEqual([{ kind: 'post', state: 'publish', headline: 'Written through the proxy at 100 %' }]);
    const updated = await call(proxyUrl, 'POST', `/wp-json/wp/v2/posts/${created.body.id}`, writer!.authorization, { title: 'Changed through the proxy' });
    expect(updated).toMatchObject({ status: 200, side: 'service', body: { title: { raw: 'Changed through the proxy' } } });
    expect(await call(proxyUrl, 'GET', '/wp-json/wp/v2/users/me', writer!.authorization)).toMatchObject({ status: 200, side: 'wordpress' });
    expect(await call(proxyUrl, 'GET', '/wp-json/wp/v2/pages', undefined)).toMatchObject({ status: 200, side: 'wordpress' });
  });

  it('at 50 %: each user sticks to one side for both post routes, request after request', async () => {
    await flip(50);
    // Right after the flip a user may still be answered at the old percentage: wait until every user's two routes agree.
    const sides = await sidesOf();
    for (let round = 0; round < 3; round++) expect(await sidesOf()).toEqual(sides);
  });

  it('back at 0 %: WordPress answers every user again', async () => {
    await flip(0);
    expect(await sidesOf('wordpress')).toHaveLength(4);
  });
});
