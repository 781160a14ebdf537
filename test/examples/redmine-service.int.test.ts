import { startRedmine, type RunningRedmine } from '../../infra';
import { startIssueService, type RunningIssueService } from '../../examples/redmine/service/issues-service';
import { createTestDatabase, uniqueName, type TestDatabase } from '../helpers';

/** A cold machine installs Redmine and migrates its database before the server starts. */
const COLD_START_MS = 8 * 60_000;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The JSON's shape: keys in order, and each value's type (null, boolean, number, string, or nested). */
function shape(value: Json): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shape(inner)]));
  return typeof value;
}
/** The issue without what differs by nature between the two sides: ids and times. */
function comparable(issue: Record<string, Json>): Record<string, Json> {
  const { id: _id, created_on: _created, updated_on: _updated, closed_on: closed, ...rest } = issue;
  return { ...rest, closed: closed !== null };
}

/**
 * Step 2 of strangling Redmine (issue 37), first part: the extracted issue service answers Redmine's issue API for
 * one project with Redmine's JSON shapes, status codes and validation messages, from a schema of its own. Each case
 * sends the same request to the running Redmine and to the service, and compares the answers.
 */
describe('examples/redmine: the issue service answers as Redmine does', () => {
  let redmine: RunningRedmine;
  let database: TestDatabase;
  let service: RunningIssueService;
  const sides = () => [
    { name: 'redmine', url: redmine.url },
    { name: 'service', url: service.url },
  ];
  const call = (base: string, method: string, route: string, body?: unknown, key: string | null = redmine.apiKey) =>
    fetch(`${base}${route}`, {
      method,
      headers: { ...(key ? { 'X-Redmine-API-Key': key } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  /** The same request on both sides: status, content type, and the body (parsed when there is one). */
  const both = async (method: string, route: (side: string) => string, body?: unknown, key?: string | null) =>
    Promise.all(
      sides().map(async ({ name, url }) => {
        const response = await call(url, method, route(name), body, key);
        const text = await response.text();
        return {
          status: response.status,
          type: response.headers.get('content-type'),
          location: response.headers.get('location')?.replace(url, '<base>') ?? null,
          body: text === '' ? '' : (JSON.parse(text) as Json),
        };
      }),
    );

  beforeAll(async () => {
    redmine = await startRedmine({ log: (line) => process.stderr.write(`[redmine] ${line}\n`) });
    database = await createTestDatabase('sfg_redmine_issues');
    service = await startIssueService({
      databaseUrl: database.url,
      project: { id: redmine.project.id, identifier: redmine.project.identifier, name: 'Strangler' },
      people: [{ id: 1, login: 'admin', name: 'Redmine Admin', apiKey: redmine.apiKey }],
    });
  }, COLD_START_MS);

  afterAll(async () => {
    await service?.close();
    await database?.drop();
  });

  it('creates the same issue on both sides: 201, a Location, and the same JSON shape and values', async () => {
    const issue = {
      project_id: redmine.project.identifier,
      subject: `Service probe ${uniqueName('issue')}`,
      description: 'compared with Redmine',
      tracker_id: 2,
      priority_id: 3,
      due_date: '2099-01-31',
      done_ratio: 20,
      estimated_hours: 2.5,
    };
    const [onRedmine, onService] = await both('POST', () => '/issues.json', { issue });
    expect(onRedmine).toMatchObject({ status: 201, type: 'application/json; charset=utf-8', location: expect.stringMatching(/^<base>\/issues\/\d+$/) });
    expect(onService).toMatchObject({ status: onRedmine!.status, type: onRedmine!.type, location: expect.stringMatching(/^<base>\/issues\/\d+$/) });
    const created = [onRedmine!.body, onService!.body] as { issue: Record<string, Json> }[];
    expect(shape(created[1]!)).toEqual(shape(created[0]!));
    expect(comparable(created[1]!.issue)).toEqual(comparable(created[0]!.issue));
    expect(created[1]!.issue).toMatchObject({ tracker: { id: 2, name: 'Feature' }, priority: { id: 3, name: 'High' }, author: { id: 1, name: 'Redmine Admin' } });

    // Read back, then changed (status to closed, priority, subject) and read again: the same on both sides.
    const ids = { redmine: created[0]!.issue.id, service: created[1]!.issue.id };
    const read = await both('GET', (side) => `/issues/${ids[side as keyof typeof ids]}.json`);
    expect(read.map(({ status }) => status)).toEqual([200, 200]);
    expect(shape(read[1]!.body)).toEqual(shape(read[0]!.body));
    expect(comparable((read[1]!.body as { issue: Record<string, Json> }).issue)).toEqual(comparable((read[0]!.body as { issue: Record<string, Json> }).issue));

    const update = { issue: { status_id: 5, priority_id: 4, subject: `${issue.subject} (closed)`, done_ratio: 100 } };
    const updated = await both('PUT', (side) => `/issues/${ids[side as keyof typeof ids]}.json`, update);
    expect(updated.map(({ status, body }) => [status, body])).toEqual([
      [204, ''],
      [204, ''],
    ]);
    const reread = await both('GET', (side) => `/issues/${ids[side as keyof typeof ids]}.json`);
    const issues = reread.map(({ body }) => (body as { issue: Record<string, Json> }).issue);
    expect(shape(issues[1]!)).toEqual(shape(issues[0]!));
    expect(comparable(issues[1]!)).toEqual(comparable(issues[0]!));
    expect(issues[1]).toMatchObject({ status: { id: 5, name: 'Closed', is_closed: true }, closed_on: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });

    // What the service wrote: words in its own table, and its outbox row in the same transaction.
    const { rows } = await service.pool.query('select tracker, status, priority, revision, written_by from tickets where id = $1', [ids.service]);
    expect(rows[0]).toEqual({ tracker: 'feature', status: 'closed', priority: 'urgent', revision: 2, written_by: 'tickets' });
    const outbox = await service.pool.query("select type, payload->>'status' as status, headers from outbox where aggregateid = $1 order by created_at", [String(ids.service)]);
    expect(outbox.rows).toEqual([
      { type: 'IssueCreated', status: 'new', headers: { origin: 'tickets', version: '1' } },
      { type: 'IssueChanged', status: 'closed', headers: { origin: 'tickets', version: '2' } },
    ]);
  });

  it('lists issues as Redmine does: open by default, newest first, total_count/offset/limit, closed and all on request', async () => {
    for (const query of ['', '?project_id=strangler', '?status_id=c&limit=1', '?status_id=*&limit=2&offset=1', '?limit=500']) {
      const [onRedmine, onService] = await both('GET', () => `/issues.json${query}`);
      expect([query, onService!.status, onService!.type]).toEqual([query, onRedmine!.status, onRedmine!.type]);
      const [listed, served] = [onRedmine!.body, onService!.body] as { issues: Record<string, Json>[]; total_count: number; offset: number; limit: number }[];
      expect(Object.keys(served!)).toEqual(Object.keys(listed!));
      expect([query, served!.offset, served!.limit]).toEqual([query, listed!.offset, listed!.limit]);
      if (listed!.issues[0] && served!.issues[0]) expect(shape(served!.issues[0])).toEqual(shape(listed!.issues[0]));
      const ids = served!.issues.map((issue) => issue.id as number);
      expect(ids).toEqual([...ids].sort((a, b) => b - a));
      if (query === '' || query === '?project_id=strangler') expect(served!.issues.every((issue) => !(issue.status as { is_closed: boolean }).is_closed)).toBe(true);
      if (query.startsWith('?status_id=c')) expect(served!.issues.every((issue) => (issue.status as { is_closed: boolean }).is_closed)).toBe(true);
    }
    const unknown = await both('GET', () => '/issues.json?project_id=no-such-project');
    expect(unknown[1]).toEqual(unknown[0]);
    expect(unknown[0]).toMatchObject({ status: 404, body: '' });
  });

  it.each([
    ['a blank subject and an unknown priority', { subject: '', priority_id: 999 }],
    ['no project', { subject: 'x', project_id: null }],
    ['an unknown project', { subject: 'x', project_id: 'no-such-project' }],
    ['a subject of 256 characters', { subject: 'a'.repeat(256) }],
    ['done ratio 150 and due before start', { subject: 'x', done_ratio: 150, start_date: '2026-12-10', due_date: '2026-12-01' }],
    ['dates that are not dates', { subject: 'x', start_date: '2026-13-45', due_date: 'nope' }],
    ['negative estimated hours', { subject: 'x', estimated_hours: -1 }],
    ['everything wrong at once', { subject: '', project_id: null, priority_id: 0, done_ratio: -5, estimated_hours: 'x', due_date: '2026-02-30' }],
  ])("refuses a POST with %s: 422 and Redmine's errors, word for word", async (_what, attributes) => {
    const [onRedmine, onService] = await both('POST', () => '/issues.json', { issue: { project_id: redmine.project.identifier, ...attributes } });
    expect(onRedmine!.status).toBe(422);
    expect(onService).toEqual(onRedmine);
  });

  it('answers PUT errors, unknown ids, missing or bad keys and malformed JSON with the same codes and bodies', async () => {
    const issue = { project_id: redmine.project.identifier, subject: `Errors probe ${uniqueName('issue')}` };
    const created = await both('POST', () => '/issues.json', { issue });
    const ids = Object.fromEntries(created.map(({ body }, index) => [index === 0 ? 'redmine' : 'service', (body as { issue: { id: number } }).issue.id]));
    const route = (side: string) => `/issues/${ids[side]}.json`;

    for (const update of [{ subject: '' }, { priority_id: 99, status_id: 99, tracker_id: 99 }, { done_ratio: 101, due_date: '2000-01-01', start_date: '2000-01-02' }]) {
      const [onRedmine, onService] = await both('PUT', route, { issue: update });
      expect([update, onService]).toEqual([update, onRedmine]);
    }
    for (const [method, path] of [
      ['GET', '/issues/99999999.json'],
      ['PUT', '/issues/99999999.json'],
    ] as const) {
      const [onRedmine, onService] = await both(method, () => path, method === 'PUT' ? { issue: { subject: 'y' } } : undefined);
      expect(onRedmine).toMatchObject({ status: 404, body: '' });
      expect(onService).toEqual(onRedmine);
    }
    for (const key of [null, 'not-a-key']) {
      const [onRedmine, onService] = await both('POST', () => '/issues.json', { issue }, key);
      expect(onRedmine).toMatchObject({ status: 401, body: '' });
      expect([key, onService]).toEqual([key, onRedmine]);
    }
    const [onRedmine, onService] = await both('PUT', route, '{"issue": ');
    expect(onRedmine!.status).toBe(400);
    expect(onService).toEqual(onRedmine);
  });
});
