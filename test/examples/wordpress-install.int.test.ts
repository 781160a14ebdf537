import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import mysql from 'mysql2/promise';
import { startWordpress, type RunningWordpress } from '../../infra';
import { uniqueName } from '../helpers';

/** A cold machine installs the packages (about 40 s) before WordPress's installer runs. */
const COLD_START_MS = 8 * 60_000;

interface WordpressPost {
  id: number;
  date: string;
  date_gmt: string;
  modified: string;
  modified_gmt: string;
  slug: string;
  status: string;
  type: string;
  link: string;
  title: { raw?: string; rendered: string };
  content: { raw?: string; rendered: string };
  author: number;
}

/**
 * Step 1 of strangling WordPress (issue 38): WordPress 6.1 as Debian ships it, installed when missing, on its own
 * database and user on the machine's MariaDB, configured only (/etc/wordpress/config-wordpress.php, WordPress's
 * installer, pretty permalinks, application passwords), served by `php -S`. Its REST API takes an application
 * password over plain http. The run's global teardown stops it when this run started it.
 */
describe("examples/wordpress: Debian's WordPress 6.1, unmodified, installed and started by the test setup", () => {
  let wordpress: RunningWordpress;
  let database: mysql.Connection;
  const api = (method: string, route: string, authorization: string | undefined, body?: unknown) =>
    fetch(`${wordpress.url}/wp-json/wp/v2${route}`, {
      method,
      headers: { ...(authorization ? { authorization } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  beforeAll(async () => {
    wordpress = await startWordpress({ log: (line) => process.stderr.write(`[wordpress] ${line}\n`) });
    const { installMs, setupMs, startMs, totalMs } = wordpress.timings;
    process.stderr.write(
      `[wordpress] ${wordpress.startedNow ? 'started' : 'reused'} ${wordpress.url} in ${totalMs} ms (install ${installMs} ms, setup ${setupMs} ms, REST answered ${startMs} ms after spawn)\n`,
    );
    database = await mysql.createConnection({ uri: wordpress.mysqlUrl });
  }, COLD_START_MS);

  afterAll(async () => {
    await database?.end();
  });

  it('answers /users/me for each application password, and the admin is an administrator', async () => {
    expect(wordpress.users.map((user) => user.login)).toEqual(['writer1', 'writer2', 'writer3', 'writer4']);
    for (const user of [wordpress.admin, ...wordpress.users]) {
      const response = await api('GET', '/users/me?context=edit', user.authorization);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id: user.id, slug: user.login, roles: [user === wordpress.admin ? 'administrator' : 'editor'] });
    }
  });

  it('creates, reads, updates and lists a post through the REST API with an application password', async () => {
    const [writer] = wordpress.users;
    const title = `Strangler probe ${uniqueName('post')}`;
    const created = await api('POST', '/posts', writer!.authorization, { title, content: 'First paragraph.\n\nSecond one.', status: 'publish' });
    expect(created.status).toBe(201);
    const post = (await created.json()) as WordpressPost;
    expect(created.headers.get('location')).toBe(`${wordpress.url}/wp-json/wp/v2/posts/${post.id}`);
    expect(post).toMatchObject({
      status: 'publish',
      type: 'post',
      author: writer!.id,
      title: { raw: title, rendered: title },
      content: { raw: 'First paragraph.\n\nSecond one.', rendered: '<p>First paragraph.</p>\n<p>Second one.</p>\n' },
      link: `${wordpress.url}/${post.slug}/`,
    });
    expect(post.date_gmt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);

    const read = await api('GET', `/posts/${post.id}`, undefined);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: post.id, title: { rendered: title }, date: post.date, modified: post.modified });

    const updated = await api('POST', `/posts/${post.id}`, writer!.authorization, { title: `${title} (changed)` });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({ id: post.id, title: { raw: `${title} (changed)` }, date: post.date });
    const list = await api('GET', '/posts?per_page=100', undefined);
    expect(list.status).toBe(200);
    expect(Number(list.headers.get('x-wp-total'))).toBeGreaterThanOrEqual(1);
    expect(((await list.json()) as WordpressPost[]).find((listed) => listed.id === post.id)).toMatchObject({ title: { rendered: `${title} (changed)` } });

    // What WordPress wrote: its own row, and the page its theme renders for the post.
    const [rows] = await database.query<mysql.RowDataPacket[]>('select post_title, post_type, post_status, post_author from wp_posts where ID = ?', [post.id]);
    expect(rows[0]).toEqual({ post_title: `${title} (changed)`, post_type: 'post', post_status: 'publish', post_author: writer!.id });
    const page = await fetch(`${wordpress.url}/${post.slug}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`${title} (changed)`);
  });

  it('refuses writes without credentials or with a wrong password (401), and reads stay public', async () => {
    for (const authorization of [undefined, `Basic ${Buffer.from('writer1:not the password').toString('base64')}`]) {
      const response = await api('POST', '/posts', authorization, { title: 'x' });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: 'rest_cannot_create' });
    }
    expect((await api('GET', '/posts', undefined)).status).toBe(200);
  });

  it("runs the package's files unchanged: its configuration file is all we write", () => {
    const verify = spawnSync('dpkg', ['--verify', 'wordpress', 'wordpress-theme-twentytwentythree'], { encoding: 'utf8' });
    expect({ status: verify.status, changed: verify.stdout.trim() }).toEqual({ status: 0, changed: '' });
    const config = fs.readFileSync(wordpress.configPath, 'utf8');
    expect(config).toMatch(/^define\('WP_ENVIRONMENT_TYPE', 'local'\);$/m);
    expect(config).toMatch(new RegExp(`^define\\('DB_NAME', '${wordpress.database}'\\);$`, 'm'));
  });

  it('starts again fast: a second call reuses the running server and its credentials', async () => {
    const again = await startWordpress({ log: () => undefined });
    expect(again).toMatchObject({ startedNow: false, url: wordpress.url, admin: wordpress.admin, users: wordpress.users });
    expect(again.timings.totalMs).toBeLessThan(10_000);
  });
});
