/**
 * The post service extracted from WordPress: it answers WordPress's REST routes for posts (`GET/POST
 * /wp-json/wp/v2/posts`, `GET/POST/PUT/PATCH /wp-json/wp/v2/posts/:id`) in WordPress's JSON shape, from its own table
 * `articles` in Postgres. Every write also writes the article's document to the service's outbox in the same
 * transaction, so that `strangler sync --into legacy` can write it back into wp_posts once the sync writes MySQL.
 *
 * Run: `DATABASE_URL=postgres://.../strangler_wordpress_posts WORDPRESS_USERS=writer1:2:<app password>,... node --import tsx examples/wordpress/service/main.ts`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Pool, type PoolClient } from 'pg';

export const SERVICE_ORIGIN = 'articles';
export const SCHEMA_FILE = path.join(__dirname, 'schema.sql');
const STATUSES = ['publish', 'future', 'draft', 'pending', 'private'] as const;

export interface Writer {
  /** WordPress's user id and login. */
  id: number;
  login: string;
  /** The user's WordPress application password (spaces or not): the service checks `Basic login:password` against it. */
  password: string;
}

export interface PostServiceOptions {
  databaseUrl: string;
  /** WordPress's home URL (WP_HOME): links, guids and Location headers name WordPress's site, as WordPress does. */
  siteUrl: string;
  /** Who may write and read drafts: WordPress's editors and their application passwords. */
  writers: Writer[];
  port?: number;
  host?: string;
}

interface ArticleRow {
  id: string;
  kind: string;
  state: string;
  author_id: string;
  headline: string;
  body: string;
  summary: string;
  handle: string;
  secret: string;
  comments_open: boolean;
  pings_open: boolean;
  permalink_guid: string;
  published_at: Date | null;
  published_wall: Date;
  edited_at: Date | null;
  edited_wall: Date;
  revision: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
const invalidId = () => new HttpError(404, 'rest_post_invalid_id', 'Invalid post ID.');

/** WordPress's REST dates: the wall clock without a zone, to the second. */
const restDate = (value: Date) => value.toISOString().slice(0, 19);
const nowToSecond = () => new Date(Math.floor(Date.now() / 1000) * 1000);

/** WordPress's sanitize_title for ASCII-ish titles: accents off, lower case, runs of anything else become one '-'. */
export function slugify(title: string): string {
  return title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/&.+?;/g, '')
    .replace(/[^a-z0-9 _-]/g, '')
    .trim()
    .replace(/[\s-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** The parts of WordPress's wptexturize a title or a paragraph commonly meets: apostrophes, ellipses, dashes. */
export function texturize(text: string): string {
  return text
    .replace(/(\w)'(\w)/g, '$1&#8217;$2')
    .replace(/\.\.\./g, '&#8230;')
    .replace(/ -- /g, ' &#8212; ')
    .replace(/ - /g, ' &#8211; ');
}

const BLOCK_START = /^<(p|div|h[1-6]|ul|ol|li|blockquote|pre|figure|table|hr|section|article|aside|header|footer|!--)\b/i;

/** WordPress's wpautop for text and simple HTML: blank-line-separated paragraphs in <p>, single newlines as <br />. */
export function autop(text: string): string {
  const normalized = text.replace(/\r\n?/g, '\n').trim();
  if (normalized === '') return '';
  return normalized
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.trim())
    .filter((paragraph) => paragraph !== '')
    .map((paragraph) => (BLOCK_START.test(paragraph) ? `${paragraph}\n` : `<p>${texturize(paragraph).replace(/\n/g, '<br />\n')}</p>\n`))
    .join('');
}

/** the_content: block comments dropped (do_blocks), else wpautop. */
export function renderContent(raw: string): string {
  if (raw.includes('<!-- wp:')) return raw.replace(/<!-- \/?wp:[^>]*-->/g, '');
  return autop(raw);
}

/** wp_trim_excerpt: the rendered content without tags, its first 55 words, ' [&hellip;]' when cut; then wpautop. */
export function renderExcerpt(summary: string, raw: string): string {
  if (summary.trim() !== '') return autop(summary);
  const words = renderContent(raw).replace(/<[^>]*>/g, ' ').trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '';
  return `<p>${words.slice(0, 55).join(' ')}${words.length > 55 ? ' [&hellip;]' : ''}</p>\n`;
}

/** The REST answer for one post, in WordPress's key order (view context, or edit context with the raw fields). */
function postJson(row: ArticleRow, siteUrl: string, edit: boolean): Record<string, unknown> {
  const id = Number(row.id);
  const published = row.state === 'publish' && row.handle !== '';
  const protectedPost = row.secret !== '';
  const rendered = { title: texturize(row.headline), content: renderContent(row.body), excerpt: renderExcerpt(row.summary, row.body) };
  return {
    id,
    date: restDate(row.published_wall),
    date_gmt: restDate(row.published_at ?? row.published_wall), // the site runs in UTC: a floating draft date is its wall clock
    guid: edit ? { rendered: row.permalink_guid, raw: row.permalink_guid } : { rendered: row.permalink_guid },
    modified: restDate(row.edited_wall),
    modified_gmt: restDate(row.edited_at ?? row.edited_wall),
    ...(edit ? { password: row.secret } : {}),
    slug: row.handle,
    status: row.state,
    type: row.kind,
    link: published ? `${siteUrl}/${row.handle}/` : `${siteUrl}/?p=${id}`,
    title: edit ? { raw: row.headline, rendered: rendered.title } : { rendered: rendered.title },
    content: edit ? { raw: row.body, rendered: rendered.content, protected: protectedPost, block_version: row.body.includes('<!-- wp:') ? 1 : 0 } : { rendered: rendered.content, protected: protectedPost },
    excerpt: edit ? { raw: row.summary, rendered: rendered.excerpt, protected: protectedPost } : { rendered: rendered.excerpt, protected: protectedPost },
    author: Number(row.author_id),
    featured_media: 0,
    comment_status: row.comments_open ? 'open' : 'closed',
    ping_status: row.pings_open ? 'open' : 'closed',
    sticky: false,
    template: '',
    format: 'standard',
    meta: [],
    ...(edit ? { permalink_template: `${siteUrl}/%postname%/`, generated_slug: slugify(row.headline) } : {}),
  };
}

/** The outbox document: the service side's fields of the mapping, named as the service names them. */
function document(row: ArticleRow) {
  const iso = (value: Date | null) => (value ? value.toISOString() : null);
  return {
    id: row.id,
    kind: row.kind,
    state: row.state,
    authorId: row.author_id,
    headline: row.headline,
    body: row.body,
    summary: row.summary,
    handle: row.handle,
    secret: row.secret,
    commentsOpen: row.comments_open,
    pingsOpen: row.pings_open,
    permalinkGuid: row.permalink_guid,
    publishedAt: iso(row.published_at),
    publishedWall: iso(row.published_wall),
    editedAt: iso(row.edited_at),
    editedWall: iso(row.edited_wall),
    revision: row.revision,
  };
}

export interface RunningPostService {
  url: string;
  pool: Pool;
  server: http.Server;
  close(): Promise<void>;
}

export async function applySchema(pool: Pool): Promise<void> {
  await pool.query(fs.readFileSync(SCHEMA_FILE, 'utf8'));
}

/** A REST field given as a string or as `{ raw }`, as WordPress takes title, content and excerpt. */
function rawText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { raw?: unknown }).raw === 'string') return (value as { raw: string }).raw;
  return undefined;
}

export async function startPostService(options: PostServiceOptions): Promise<RunningPostService> {
  const siteUrl = options.siteUrl.replace(/\/+$/, '');
  const pool = new Pool({ connectionString: options.databaseUrl, max: 10 });
  pool.on('error', () => undefined);
  await applySchema(pool);
  const credentials = new Map(
    options.writers.map((writer) => [`Basic ${Buffer.from(`${writer.login}:${writer.password.replace(/\s/g, '')}`).toString('base64')}`, writer]),
  );
  // WordPress strips the spaces it shows in an application password: so does the check.
  const writerOf = (request: http.IncomingMessage): Writer | undefined => {
    const header = request.headers.authorization;
    if (!header?.startsWith('Basic ')) return undefined;
    const [login, ...rest] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
    return credentials.get(`Basic ${Buffer.from(`${login}:${rest.join(':').replace(/\s/g, '')}`).toString('base64')}`);
  };

  const transaction = async <T>(work: (client: PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      const result = await work(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };

  const readPost = async (client: PoolClient | Pool, id: string, forUpdate = false) => {
    if (!/^\d{1,16}$/.test(id)) return undefined;
    const { rows } = await client.query<ArticleRow>(`select * from articles where id = $1 and kind = 'post'${forUpdate ? ' for update' : ''}`, [id]);
    return rows[0];
  };

  /** wp_unique_post_slug: the wanted slug, else with -2, -3, ... (among the posts of the service). */
  const uniqueHandle = async (client: PoolClient, wanted: string, id: string) => {
    const { rows } = await client.query<{ handle: string }>(`select handle from articles where kind = 'post' and id <> $1 and (handle = $2 or handle like $3)`, [id, wanted, `${wanted}-%`]);
    const taken = new Set(rows.map((row) => row.handle));
    if (!taken.has(wanted)) return wanted;
    for (let suffix = 2; ; suffix++) if (!taken.has(`${wanted}-${suffix}`)) return `${wanted}-${suffix}`;
  };

  const save = async (client: PoolClient, row: ArticleRow, type: 'PostCreated' | 'PostChanged') => {
    await client.query(
      `insert into articles (id, kind, state, author_id, headline, body, summary, handle, secret, comments_open, pings_open, permalink_guid,
         published_at, published_wall, edited_at, edited_wall, revision, written_by)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
       on conflict (id) do update set state = excluded.state, headline = excluded.headline, body = excluded.body, summary = excluded.summary,
         handle = excluded.handle, secret = excluded.secret, comments_open = excluded.comments_open, pings_open = excluded.pings_open,
         published_at = excluded.published_at, published_wall = excluded.published_wall, edited_at = excluded.edited_at,
         edited_wall = excluded.edited_wall, revision = excluded.revision, written_by = excluded.written_by`,
      [row.id, row.kind, row.state, row.author_id, row.headline, row.body, row.summary, row.handle, row.secret, row.comments_open, row.pings_open,
        row.permalink_guid, row.published_at, row.published_wall, row.edited_at, row.edited_wall, row.revision, SERVICE_ORIGIN],
    );
    await client.query('insert into outbox (id, aggregatetype, aggregateid, type, payload, headers) values ($1, $2, $3, $4, $5, $6)', [
      crypto.randomUUID(),
      'post',
      row.id,
      type,
      JSON.stringify(document(row)),
      JSON.stringify({ origin: SERVICE_ORIGIN, version: String(row.revision) }),
    ]);
    return row;
  };

  /** Applies the REST fields WordPress takes to a post; validates as its controller does. */
  const applyFields = async (client: PoolClient, row: ArticleRow, body: Record<string, unknown>) => {
    const title = rawText(body.title);
    const content = rawText(body.content);
    const excerpt = rawText(body.excerpt);
    if (title !== undefined) row.headline = title;
    if (content !== undefined) row.body = content;
    if (excerpt !== undefined) row.summary = excerpt;
    if (typeof body.password === 'string') row.secret = body.password;
    if (body.comment_status === 'open' || body.comment_status === 'closed') row.comments_open = body.comment_status === 'open';
    if (body.ping_status === 'open' || body.ping_status === 'closed') row.pings_open = body.ping_status === 'open';
    if (body.status !== undefined) {
      if (!STATUSES.includes(body.status as (typeof STATUSES)[number])) {
        throw new HttpError(400, 'rest_invalid_param', 'Invalid parameter(s): status', { params: { status: `status is not one of ${STATUSES.join(', ')}.` } });
      }
      row.state = body.status as string;
    }
    const now = nowToSecond();
    if (row.state === 'publish' && row.published_at === null) {
      // A draft's floating date becomes the time it is published.
      row.published_at = now;
      row.published_wall = now;
    }
    // A published post keeps its slug when its title changes; a draft has none until it is published.
    if ((row.state === 'publish' && row.handle === '') || (typeof body.slug === 'string' && body.slug !== '')) {
      const wanted = slugify(typeof body.slug === 'string' && body.slug !== '' ? body.slug : row.headline) || row.id;
      row.handle = await uniqueHandle(client, wanted, row.id);
    }
    row.edited_at = now;
    row.edited_wall = now;
  };

  const createPost = async (writer: Writer, body: Record<string, unknown>) => {
    if (!rawText(body.title) && !rawText(body.content) && !rawText(body.excerpt)) throw new HttpError(400, 'empty_content', 'Content, title, and excerpt are empty.');
    return transaction(async (client) => {
      const { rows } = await client.query<{ id: string }>("select nextval('article_ids')::text as id");
      const id = rows[0]!.id;
      const now = nowToSecond();
      const row: ArticleRow = {
        id,
        kind: 'post',
        state: 'draft',
        author_id: String(writer.id),
        headline: '',
        body: '',
        summary: '',
        handle: '',
        secret: '',
        comments_open: true,
        pings_open: true,
        permalink_guid: `${siteUrl}/?p=${id}`,
        published_at: null,
        published_wall: now,
        edited_at: now,
        edited_wall: now,
        revision: 1,
      };
      await applyFields(client, row, body);
      return save(client, row, 'PostCreated');
    });
  };

  const updatePost = async (id: string, body: Record<string, unknown>) =>
    transaction(async (client) => {
      const row = await readPost(client, id, true);
      if (!row) throw invalidId();
      await applyFields(client, row, body);
      row.revision += 1;
      return save(client, row, 'PostChanged');
    });

  const listPosts = async (url: URL, writer: Writer | undefined) => {
    const query = url.searchParams;
    const perPage = Number(query.get('per_page') ?? 10);
    const page = Number(query.get('page') ?? 1);
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) {
      throw new HttpError(400, 'rest_invalid_param', 'Invalid parameter(s): per_page', { params: { per_page: 'per_page must be between 1 (inclusive) and 100 (inclusive)' } });
    }
    if (!Number.isInteger(page) || page < 1) throw new HttpError(400, 'rest_invalid_param', 'Invalid parameter(s): page', { params: { page: 'page must be greater than or equal to 1' } });
    const statuses = (query.get('status') ?? 'publish').split(',');
    if (statuses.some((status) => status !== 'publish') && !writer) {
      throw new HttpError(400, 'rest_invalid_param', 'Invalid parameter(s): status', { params: { status: 'Status is forbidden.' } });
    }
    const authors = query.get('author')?.split(',').map(Number).filter(Number.isInteger) ?? [];
    const where = `where kind = 'post' and state = any($1)${authors.length ? ' and author_id = any($2)' : ''}`;
    const parameters: unknown[] = authors.length ? [statuses, authors] : [statuses];
    const [{ rows }, { rows: counts }] = await Promise.all([
      pool.query<ArticleRow>(`select * from articles ${where} order by published_wall desc, id desc limit ${perPage} offset ${(page - 1) * perPage}`, parameters),
      pool.query<{ count: string }>(`select count(*) from articles ${where}`, parameters),
    ]);
    const total = Number(counts[0]!.count);
    const pages = Math.ceil(total / perPage);
    if (page > 1 && page > pages) throw new HttpError(400, 'rest_post_invalid_page_number', 'The page number requested is larger than the number of pages available.');
    return { posts: rows.map((row) => postJson(row, siteUrl, false)), total, pages };
  };

  const readBody = async (request: http.IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') return {};
    try {
      const parsed: unknown = JSON.parse(text);
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    } catch {
      throw new HttpError(400, 'rest_invalid_json', 'Invalid JSON body passed.');
    }
  };

  const send = (response: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
    const text = JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
    response.end(text);
  };

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://service');
    const method = request.method ?? 'GET';
    const writer = writerOf(request);
    const one = /^\/wp-json\/wp\/v2\/posts\/(\d+)\/?$/.exec(url.pathname);
    const edit = url.searchParams.get('context') === 'edit';
    if (edit && !writer) throw new HttpError(401, 'rest_forbidden_context', one ? 'Sorry, you are not allowed to edit this post.' : 'Sorry, you are not allowed to edit posts in this post type.');
    if (url.pathname === '/healthz' && method === 'GET') return send(response, 200, { ok: true, servedBy: SERVICE_ORIGIN });
    if (/^\/wp-json\/wp\/v2\/posts\/?$/.test(url.pathname)) {
      if (method === 'GET') {
        const { posts, total, pages } = await listPosts(url, writer);
        return send(response, 200, posts, { 'x-wp-total': String(total), 'x-wp-totalpages': String(pages) });
      }
      if (method === 'POST') {
        if (!writer) throw new HttpError(401, 'rest_cannot_create', 'Sorry, you are not allowed to create posts as this user.');
        const created = await createPost(writer, await readBody(request));
        return send(response, 201, postJson(created, siteUrl, true), { location: `${siteUrl}/wp-json/wp/v2/posts/${created.id}` });
      }
    }
    if (one && method === 'GET') {
      const row = await readPost(pool, one[1]!);
      if (!row) throw invalidId();
      if (row.state !== 'publish' && !writer) throw new HttpError(401, 'rest_forbidden', 'Sorry, you are not allowed to do that.');
      return send(response, 200, postJson(row, siteUrl, edit));
    }
    if (one && (method === 'POST' || method === 'PUT' || method === 'PATCH')) {
      if (!(await readPost(pool, one[1]!))) throw invalidId();
      if (!writer) throw new HttpError(401, 'rest_cannot_edit', 'Sorry, you are not allowed to edit this post.');
      return send(response, 200, postJson(await updatePost(one[1]!, await readBody(request)), siteUrl, true));
    }
    throw new HttpError(404, 'rest_no_route', 'No route was found matching the URL and request method.');
  };

  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (error instanceof HttpError) {
        send(response, error.status, { code: error.code, message: error.message, data: { status: error.status, ...error.extra } });
      } else {
        console.error('post service:', error);
        if (!response.headersSent) send(response, 500, { code: 'internal_server_error', message: 'There has been a critical error.', data: { status: 500 } });
        else response.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    pool,
    server,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await pool.end();
    },
  };
}
