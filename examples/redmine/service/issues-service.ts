/**
 * The issue service extracted from Redmine: it answers Redmine's issue API (`/issues.json`, `/issues/:id.json`) for
 * one project, from its own table `tickets` in its own database, shaped its own way (tracker, status and priority as
 * words, the project by identifier, timestamptz, a revision). Every write also writes the ticket's document to the
 * service's outbox in the same transaction, so `strangler sync --into legacy` can write it back into Redmine.
 *
 * Run: `DATABASE_URL=postgres://.../strangler_redmine_issues REDMINE_API_KEY=... node --import tsx examples/redmine/service/main.ts`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Pool, type PoolClient } from 'pg';

/** Redmine's default data (REDMINE_LANG=en), as the service's words. Ids are Redmine's, for its JSON. */
export const TRACKERS = { bug: { id: 1, name: 'Bug' }, feature: { id: 2, name: 'Feature' }, support: { id: 3, name: 'Support' } } as const;
export const STATUSES = {
  new: { id: 1, name: 'New', is_closed: false },
  'in-progress': { id: 2, name: 'In Progress', is_closed: false },
  resolved: { id: 3, name: 'Resolved', is_closed: false },
  feedback: { id: 4, name: 'Feedback', is_closed: false },
  closed: { id: 5, name: 'Closed', is_closed: true },
  rejected: { id: 6, name: 'Rejected', is_closed: true },
} as const;
export const PRIORITIES = {
  low: { id: 1, name: 'Low' },
  normal: { id: 2, name: 'Normal' },
  high: { id: 3, name: 'High' },
  urgent: { id: 4, name: 'Urgent' },
  immediate: { id: 5, name: 'Immediate' },
} as const;
type Tracker = keyof typeof TRACKERS;
type Status = keyof typeof STATUSES;
type Priority = keyof typeof PRIORITIES;
const DEFAULT_TRACKER: Tracker = 'bug';
const DEFAULT_PRIORITY: Priority = 'normal';
const INITIAL_STATUS: Status = 'new';

export const SERVICE_ORIGIN = 'tickets';
export const SCHEMA_FILE = path.join(__dirname, 'schema.sql');

export interface Person {
  id: number;
  login: string;
  name: string;
  /** The X-Redmine-API-Key this person writes with (the same key as in Redmine). */
  apiKey: string;
}

export interface IssueServiceOptions {
  databaseUrl: string;
  /** The one project this service serves, as Redmine knows it. */
  project: { id: number; identifier: string; name: string };
  /** Who may write (POST/PUT need one of their keys, as Redmine does). Added to `people` when the sync has not brought them yet. */
  people: Person[];
  /** Base of the Location header of a created issue (Redmine: its own URL). Default: the request's Host. */
  publicUrl?: string;
  port?: number;
  host?: string;
}

interface TicketRow {
  id: number;
  project: string;
  tracker: Tracker;
  status: Status;
  priority: Priority;
  subject: string;
  description: string | null;
  author_id: number;
  author_name: string | null;
  start_date: string | null;
  due_date: string | null;
  done_ratio: number;
  estimated_hours: number | null;
  is_private: boolean;
  created_at: Date;
  updated_at: Date;
  closed_at: Date | null;
  revision: number;
}

const SELECT = `select t.id, t.project, t.tracker, t.status, t.priority, t.subject, t.description, t.author_id, p.name as author_name,
  to_char(t.start_date, 'YYYY-MM-DD') as start_date, to_char(t.due_date, 'YYYY-MM-DD') as due_date, t.done_ratio, t.estimated_hours,
  t.is_private, t.created_at, t.updated_at, t.closed_at, t.revision
  from tickets t left join people p on p.id = t.author_id`;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body?: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

/** Redmine renders times as UTC with seconds: 2026-12-07T17:22:42Z. */
const redmineTime = (value: Date | null) => (value ? value.toISOString().replace(/\.\d{3}Z$/, 'Z') : null);
const today = () => new Date().toISOString().slice(0, 10);

const lookupById = <K extends string>(table: Record<K, { id: number }>, id: unknown): K | undefined => {
  const wanted = Number(id);
  return (Object.keys(table) as K[]).find((key) => table[key].id === wanted);
};

/** Ruby's String#to_i as Rails casts an integer attribute: leading digits, else 0. */
const toInteger = (value: unknown): number => {
  if (typeof value === 'number') return Math.trunc(value);
  const match = /^\s*([+-]?\d+)/.exec(String(value ?? ''));
  return match ? Number(match[1]) : 0;
};

const isValidDate = (value: string) => {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.getUTCFullYear() === Number(match[1]) && date.getUTCMonth() === Number(match[2]) - 1 && date.getUTCDate() === Number(match[3]);
};

/** Redmine's JSON for one issue (show.api.rsb / index.api.rsb, for the fields this service covers). */
function issueJson(row: TicketRow, project: IssueServiceOptions['project'], withSpentHours: boolean): Record<string, unknown> {
  return {
    id: row.id,
    project: { id: project.id, name: project.name },
    tracker: TRACKERS[row.tracker],
    status: STATUSES[row.status],
    priority: PRIORITIES[row.priority],
    ...(row.author_name === null ? {} : { author: { id: row.author_id, name: row.author_name } }),
    subject: row.subject,
    description: row.description,
    start_date: row.start_date,
    due_date: row.due_date,
    done_ratio: row.done_ratio,
    is_private: row.is_private,
    estimated_hours: row.estimated_hours,
    total_estimated_hours: row.estimated_hours, // a root issue without children: its own
    ...(withSpentHours ? { spent_hours: 0.0, total_spent_hours: 0.0 } : {}),
    created_on: redmineTime(row.created_at),
    updated_on: redmineTime(row.updated_at),
    closed_on: redmineTime(row.closed_at),
  };
}

/** The outbox document: the service side's fields of the mapping, named as the service names them. */
function document(row: TicketRow) {
  return {
    id: row.id,
    project: row.project,
    tracker: row.tracker,
    status: row.status,
    priority: row.priority,
    subject: row.subject,
    description: row.description,
    authorId: row.author_id,
    startDate: row.start_date,
    dueDate: row.due_date,
    doneRatio: row.done_ratio,
    estimatedHours: row.estimated_hours,
    isPrivate: row.is_private,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    closedAt: row.closed_at ? row.closed_at.toISOString() : null,
    revision: row.revision,
  };
}

interface Draft {
  tracker: Tracker;
  status: Status;
  priority: Priority | undefined;
  subject: string;
  description: string | null;
  start_date: string | null;
  due_date: string | null;
  done_ratio: number;
  estimated_hours: number | null;
  is_private: boolean;
}

/**
 * Applies the attributes Redmine's API accepts to a draft and validates it as Redmine's Issue model does, in its
 * order (presence of subject, project, tracker, priority, status; subject length; done ratio; estimated hours; dates;
 * due after start), with its English full messages.
 */
function applyAttributes(draft: Draft, attributes: Record<string, unknown>, isNew: boolean, projectKnown: boolean): string[] {
  const errors: string[] = [];
  let priorityBlank = false;
  if ('subject' in attributes) draft.subject = attributes.subject == null ? '' : String(attributes.subject);
  if ('description' in attributes) draft.description = attributes.description == null ? null : String(attributes.description);
  if ('tracker_id' in attributes) draft.tracker = lookupById(TRACKERS, attributes.tracker_id) ?? draft.tracker; // unknown: ignored, as Redmine does
  if (!isNew && 'status_id' in attributes) draft.status = lookupById(STATUSES, attributes.status_id) ?? draft.status; // a new issue gets the initial status
  if ('priority_id' in attributes) {
    draft.priority = lookupById(PRIORITIES, attributes.priority_id);
    priorityBlank = draft.priority === undefined;
  }
  if ('done_ratio' in attributes) draft.done_ratio = toInteger(attributes.done_ratio);
  if ('is_private' in attributes) draft.is_private = attributes.is_private === true || attributes.is_private === 'true' || attributes.is_private === '1' || attributes.is_private === 1;
  let estimatedInvalid = false;
  if ('estimated_hours' in attributes) {
    const value = attributes.estimated_hours;
    if (value === null || value === '') draft.estimated_hours = null;
    else {
      const hours = Number(value);
      estimatedInvalid = !Number.isFinite(hours) || hours < 0;
      draft.estimated_hours = Number.isFinite(hours) ? hours : null;
    }
  }
  const dates: Record<'start_date' | 'due_date', boolean> = { start_date: false, due_date: false };
  for (const field of ['start_date', 'due_date'] as const) {
    if (!(field in attributes)) continue;
    const value = attributes[field];
    if (value === null || value === '') draft[field] = null;
    else if (isValidDate(String(value))) draft[field] = String(value);
    else dates[field] = true;
  }

  if (draft.subject.trim() === '') errors.push('Subject cannot be blank');
  if (!projectKnown) errors.push('Project cannot be blank', 'Tracker cannot be blank');
  if (priorityBlank) errors.push('Priority cannot be blank');
  if (!projectKnown) errors.push('Status cannot be blank'); // no project, no tracker, so no default status
  if (draft.subject.length > 255) errors.push('Subject is too long (maximum is 255 characters)');
  if (draft.done_ratio < 0 || draft.done_ratio > 100) errors.push('% Done is not included in the list');
  if (estimatedInvalid) errors.push('Estimated time is invalid');
  if (dates.start_date) errors.push('Start date is not a valid date');
  if (dates.due_date) errors.push('Due date is not a valid date');
  if (!dates.start_date && !dates.due_date && draft.start_date && draft.due_date && draft.due_date < draft.start_date) {
    errors.push('Due date must be greater than start date');
  }
  return errors;
}

export interface RunningIssueService {
  url: string;
  pool: Pool;
  server: http.Server;
  close(): Promise<void>;
}

export async function applySchema(pool: Pool): Promise<void> {
  await pool.query(fs.readFileSync(SCHEMA_FILE, 'utf8'));
}

export async function startIssueService(options: IssueServiceOptions): Promise<RunningIssueService> {
  const pool = new Pool({ connectionString: options.databaseUrl, max: 10 });
  pool.on('error', () => undefined);
  await applySchema(pool);
  for (const person of options.people) {
    // Redmine owns people (the sync keeps them current): the configuration only fills in one not synced yet.
    await pool.query('insert into people (id, login, name) values ($1, $2, $3) on conflict (id) do nothing', [
      person.id,
      person.login,
      person.name,
    ]);
  }
  const project = options.project;
  const keys = new Map(options.people.map((person) => [person.apiKey, person]));
  const projectMatches = (value: unknown) => value !== undefined && value !== null && (String(value) === String(project.id) || String(value) === project.identifier);

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

  const readTicket = async (client: PoolClient | Pool, id: number, forUpdate = false) => {
    const { rows } = await client.query<TicketRow>(`${SELECT} where t.id = $1 and t.project = $2${forUpdate ? ' for update of t' : ''}`, [id, project.identifier]);
    return rows[0];
  };

  const save = async (client: PoolClient, row: Omit<TicketRow, 'author_name' | 'created_at' | 'updated_at'> & { created_at?: Date }, type: string) => {
    const { rows } = await client.query<{ id: number }>(
      `insert into tickets (id, project, tracker, status, priority, subject, description, author_id, start_date, due_date, done_ratio,
         estimated_hours, is_private, created_at, updated_at, closed_at, revision, written_by)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, coalesce($14, date_trunc('second', now())), date_trunc('second', now()), $15, $16, $17)
       on conflict (id) do update set tracker = excluded.tracker, status = excluded.status, priority = excluded.priority,
         subject = excluded.subject, description = excluded.description, start_date = excluded.start_date, due_date = excluded.due_date,
         done_ratio = excluded.done_ratio, estimated_hours = excluded.estimated_hours, is_private = excluded.is_private,
         updated_at = excluded.updated_at, closed_at = excluded.closed_at, revision = excluded.revision, written_by = excluded.written_by
       returning id`,
      [row.id, row.project, row.tracker, row.status, row.priority, row.subject, row.description, row.author_id, row.start_date, row.due_date,
        row.done_ratio, row.estimated_hours, row.is_private, row.created_at ?? null, row.closed_at, row.revision, SERVICE_ORIGIN],
    );
    const saved = (await readTicket(client, rows[0]!.id))!;
    await client.query('insert into outbox (id, aggregatetype, aggregateid, type, payload, headers) values ($1, $2, $3, $4, $5, $6)', [
      crypto.randomUUID(),
      'issue',
      String(saved.id),
      type,
      JSON.stringify(document(saved)),
      JSON.stringify({ origin: SERVICE_ORIGIN, version: String(saved.revision) }),
    ]);
    return saved;
  };

  const writer = (request: http.IncomingMessage) => {
    const key = request.headers['x-redmine-api-key'];
    const person = typeof key === 'string' ? keys.get(key) : undefined;
    if (!person) throw new HttpError(401);
    return person;
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
      throw new HttpError(400);
    }
  };
  const issueAttributes = (body: Record<string, unknown>) =>
    body.issue && typeof body.issue === 'object' && !Array.isArray(body.issue) ? (body.issue as Record<string, unknown>) : {};

  const listIssues = async (url: URL) => {
    const query = url.searchParams;
    if (query.has('project_id') && !projectMatches(query.get('project_id'))) throw new HttpError(404);
    const limit = Math.min(Math.max(toInteger(query.get('limit') ?? 25) || 25, 1), 100);
    const offset = Math.max(toInteger(query.get('offset') ?? 0), 0);
    const statusFilter = query.get('status_id') ?? 'o';
    const openWords = Object.keys(STATUSES).filter((key) => !STATUSES[key as Status].is_closed);
    const closedWords = Object.keys(STATUSES).filter((key) => STATUSES[key as Status].is_closed);
    const statuses =
      statusFilter === '*'
        ? Object.keys(STATUSES)
        : statusFilter === 'c'
          ? closedWords
          : statusFilter === 'o'
            ? openWords
            : statusFilter.split('|').map((id) => lookupById(STATUSES, id)).filter((word): word is Status => word !== undefined);
    const where = 'where t.project = $1 and t.status = any($2)';
    const [{ rows }, { rows: counts }] = await Promise.all([
      pool.query<TicketRow>(`${SELECT} ${where} order by t.id desc limit $3 offset $4`, [project.identifier, statuses, limit, offset]),
      pool.query<{ count: string }>(`select count(*) from tickets t ${where}`, [project.identifier, statuses]),
    ]);
    return { issues: rows.map((row) => issueJson(row, project, true)), total_count: Number(counts[0]!.count), offset, limit };
  };

  const createIssue = async (request: http.IncomingMessage, body: Record<string, unknown>) => {
    const person = writer(request);
    const attributes = issueAttributes(body);
    const draft: Draft = {
      tracker: DEFAULT_TRACKER,
      status: INITIAL_STATUS,
      priority: DEFAULT_PRIORITY,
      subject: '',
      description: null,
      start_date: today(), // Setting default_issue_start_date_to_creation_date, as Redmine's controller does
      due_date: null,
      done_ratio: 0,
      estimated_hours: null,
      is_private: false,
    };
    const errors = applyAttributes(draft, attributes, true, projectMatches(attributes.project_id));
    if (errors.length > 0) throw new HttpError(422, { errors });
    return transaction(async (client) => {
      const { rows } = await client.query<{ id: string }>("select nextval('ticket_ids') as id");
      const status = STATUSES[draft.status];
      return save(
        client,
        {
          id: Number(rows[0]!.id),
          project: project.identifier,
          ...draft,
          priority: draft.priority!,
          author_id: person.id,
          closed_at: status.is_closed ? new Date() : null,
          revision: 1,
        },
        'IssueCreated',
      );
    });
  };

  const updateIssue = async (request: http.IncomingMessage, id: number, body: Record<string, unknown>) => {
    writer(request);
    const attributes = issueAttributes(body);
    await transaction(async (client) => {
      const current = await readTicket(client, id, true);
      if (!current) throw new HttpError(404);
      const draft: Draft = { ...current };
      const errors = applyAttributes(draft, attributes, false, true);
      if (errors.length > 0) throw new HttpError(422, { errors });
      const closedNow = STATUSES[draft.status].is_closed && !STATUSES[current.status].is_closed;
      await save(
        client,
        { ...current, ...draft, priority: draft.priority!, closed_at: closedNow ? new Date(Math.floor(Date.now() / 1000) * 1000) : current.closed_at, revision: current.revision + 1 },
        'IssueChanged',
      );
    });
  };

  const send = (response: http.ServerResponse, status: number, body?: unknown, headers: http.OutgoingHttpHeaders = {}) => {
    if (body === undefined) {
      // Redmine's empty answers: 404 and 401 still say application/json, a malformed body's 400 says text/html; 204 nothing.
      const type = status === 400 ? 'text/html; charset=utf-8' : 'application/json';
      response.writeHead(status, status === 204 ? headers : { 'content-type': type, 'content-length': 0, ...headers });
      response.end();
      return;
    }
    const text = JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    response.end(text);
  };

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://service');
    const method = request.method ?? 'GET';
    const one = /^\/issues\/(\d+)\.json$/.exec(url.pathname);
    if (url.pathname === '/healthz' && method === 'GET') return send(response, 200, { ok: true, servedBy: SERVICE_ORIGIN });
    if (url.pathname === '/issues.json' && method === 'GET') return send(response, 200, await listIssues(url));
    if (url.pathname === '/issues.json' && method === 'POST') {
      const created = await createIssue(request, await readBody(request));
      const base = options.publicUrl ?? `http://${request.headers.host ?? 'localhost'}`;
      return send(response, 201, { issue: issueJson(created, project, false) }, { location: `${base}/issues/${created.id}` });
    }
    if (one && method === 'GET') {
      const row = await readTicket(pool, Number(one[1]));
      if (!row) throw new HttpError(404);
      return send(response, 200, { issue: issueJson(row, project, true) });
    }
    if (one && method === 'PUT') {
      await updateIssue(request, Number(one[1]), await readBody(request));
      return send(response, 204);
    }
    throw new HttpError(404);
  };

  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (error instanceof HttpError) {
        send(response, error.status, error.body, error.status === 401 ? { 'www-authenticate': 'Basic realm="Redmine API"' } : {});
      } else {
        console.error('issue service:', error);
        if (!response.headersSent) send(response, 500);
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
