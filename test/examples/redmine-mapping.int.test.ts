import path from 'node:path';
import { Client } from 'pg';
import { startRedmine, type RunningRedmine } from '../../infra';
import { applySchema, startIssueService, type RunningIssueService } from '../../examples/redmine/service/issues-service';
import { createTestDatabase, TestProcesses, uniqueName, type TestDatabase } from '../helpers';

const ROOT = path.resolve(__dirname, '../..');
const MAPPING = path.join(ROOT, 'examples', 'redmine', 'mapping.yaml');
const COLD_START_MS = 8 * 60_000;

/**
 * Step 3 of strangling Redmine (issue 37), first part: examples/redmine/mapping.yaml maps Redmine's own issues table
 * (captured: nothing added to Redmine's database) to the service's tickets, lookup ids to words. `strangler backfill`
 * copies the issues Redmine holds, `strangler verify` finds 0 drift, and the service then answers for those issues
 * exactly what Redmine answers, timestamps included.
 */
describe('examples/redmine: backfill and verify between Redmine and the issue service, with the CLI', () => {
  let redmine: RunningRedmine;
  let tickets: TestDatabase;
  let service: RunningIssueService | undefined;
  let env: NodeJS.ProcessEnv;

  const strangler = (args: string[]) => new TestProcesses({ cwd: () => ROOT, env: () => env }).strangler(args);

  beforeAll(async () => {
    redmine = await startRedmine({ log: (line) => process.stderr.write(`[redmine] ${line}\n`) });
    tickets = await createTestDatabase('sfg_redmine_tickets');
    await applySchema(tickets.pool);
    env = { ...process.env, STRANGLER_MAPPING: MAPPING, STRANGLER_LEGACY_URL: redmine.databaseUrl, STRANGLER_SERVICE_URL: tickets.url, LOG_LEVEL: 'warn' };
  }, COLD_START_MS);

  afterAll(async () => {
    await service?.close();
    await tickets?.drop();
  });

  it('backfills the issues Redmine holds into tickets, in words, and verifies 0 drift', async () => {
    // At least one issue of each kind the maps cover beyond the defaults: another tracker, priority and a closed status.
    const api = (method: string, route: string, body: unknown) =>
      fetch(`${redmine.url}${route}`, { method, headers: { 'X-Redmine-API-Key': redmine.apiKey, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = await api('POST', '/issues.json', { issue: { project_id: redmine.project.identifier, subject: `Backfill probe ${uniqueName('issue')}`, tracker_id: 3, priority_id: 5, estimated_hours: 1.25, due_date: '2099-12-31' } });
    expect(created.status).toBe(201);
    const { issue } = (await created.json()) as { issue: { id: number } };
    expect((await api('PUT', `/issues/${issue.id}.json`, { issue: { status_id: 6, done_ratio: 40 } })).status).toBe(204);

    const before = await strangler(['verify', 'all']);
    expect(before).toMatchObject({ code: 1, stdout: expect.stringMatching(/missing in sfg_redmine_tickets/) });

    // Other test files may write issues into the same Redmine meanwhile: backfill again what appeared since.
    let verified = { code: -1, stdout: '', stderr: '' };
    for (let attempt = 0; attempt < 3 && verified.code !== 0; attempt += 1) {
      const backfilled = await strangler(['backfill', 'all', ...(attempt > 0 ? ['--restart'] : [])]); // a finished backfill is a no-op without it
      expect(backfilled.code).toBe(0);
      expect(backfilled.stderr + backfilled.stdout).toMatch(/copied \d+ skipped \d+/);
      verified = await strangler(['verify', 'all']);
    }
    expect(verified).toMatchObject({ code: 0, stdout: expect.stringMatching(/^issue \(legacy \d+ rows, sfg_redmine_tickets_\w+ \d+ rows\): no drift$/m) });

    const { rows } = await tickets.pool.query('select tracker, status, priority, done_ratio, estimated_hours, written_by from tickets where id = $1', [issue.id]);
    expect(rows[0]).toEqual({ tracker: 'support', status: 'rejected', priority: 'immediate', done_ratio: 40, estimated_hours: 1.25, written_by: 'legacy' });
  });

  it('then answers GET /issues/:id.json for backfilled issues outside a tree exactly as Redmine does', async () => {
    service = await startIssueService({
      databaseUrl: tickets.url,
      project: { id: redmine.project.id, identifier: redmine.project.identifier, name: 'Strangler' },
      people: [{ id: 1, login: 'admin', name: 'Redmine Admin', apiKey: redmine.apiKey }],
    });
    // The service serves no trees: issues with a parent or children (other tests make some) answer differently there.
    const redmineDb = new Client({ connectionString: redmine.databaseUrl });
    await redmineDb.connect();
    const inTrees = new Set(
      (await redmineDb.query<{ id: number }>('select id from issues where parent_id is not null or rgt - lft > 1').finally(() => redmineDb.end())).rows.map((row) => row.id),
    );
    // Redmine's database keeps every run's issues: the oldest 10 and the newest 40 stand for them all.
    const outside = (await tickets.pool.query<{ id: number }>('select id from tickets order by id')).rows.filter(({ id }) => !inTrees.has(id));
    expect(outside.length).toBeGreaterThan(0);
    for (const { id } of outside.length > 50 ? [...outside.slice(0, 10), ...outside.slice(-40)] : outside) {
      const [fromRedmine, fromService] = await Promise.all(
        [redmine.url, service.url].map((base) => fetch(`${base}/issues/${id}.json`, { headers: { 'X-Redmine-API-Key': redmine.apiKey } }).then((r) => r.json())),
      );
      expect(fromService).toEqual(fromRedmine);
    }
  });
});
