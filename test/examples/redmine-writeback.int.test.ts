import path from 'node:path';
import { Client } from 'pg';
import { startRedmine, type RunningRedmine } from '../../infra';
import { applySchema, startIssueService, type RunningIssueService } from '../../examples/redmine/service/issues-service';
import { createTestDatabase, eventually, testEnv, TestProcesses, uniqueName, type TestDatabase } from '../helpers';

const ROOT = path.resolve(__dirname, '../..');
const MAPPING = path.join(ROOT, 'examples', 'redmine', 'mapping.yaml');
const COLD_START_MS = 8 * 60_000;

interface RedmineIssue {
  id: number;
  subject: string;
  status: { id: number; name: string };
  priority: { id: number; name: string };
}

/**
 * Step 3 of strangling Redmine (issue 37), the service -> Redmine half: the service's outbox relayed to Kafka
 * (`strangler relay --mode polling`) and written back into Redmine's own issues table (`strangler sync --into legacy`,
 * captured legacy side). An issue created and changed through the service shows up in Redmine's API and on its HTML
 * page, as a root of its own nested set, and Redmine saves it afterwards through its own API.
 */
describe('examples/redmine: the service writes its issues back into Redmine with strangler sync', () => {
  let redmine: RunningRedmine;
  let tickets: TestDatabase;
  let service: RunningIssueService;
  let env: NodeJS.ProcessEnv;
  const processes = new TestProcesses({ cwd: () => ROOT, env: () => env });
  const strangler = (args: string[]) => processes.strangler(args);
  const call = (base: string, method: string, route: string, body?: unknown) =>
    fetch(`${base}${route}`, {
      method,
      headers: { 'X-Redmine-API-Key': redmine.apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  beforeAll(async () => {
    redmine = await startRedmine({ log: (line) => process.stderr.write(`[redmine] ${line}\n`) });
    tickets = await createTestDatabase('sfg_redmine_writeback');
    await applySchema(tickets.pool);
    env = {
      ...process.env,
      KAFKA_BROKERS: testEnv().kafkaBrokers.join(','),
      STRANGLER_MAPPING: MAPPING,
      STRANGLER_LEGACY_URL: redmine.databaseUrl,
      STRANGLER_SERVICE_URL: tickets.url,
      OUTBOX_TOPIC_PREFIX: `${uniqueName('redmine')}.`,
      LOG_LEVEL: 'warn',
    };
    const backfilled = await strangler(['backfill', 'all']);
    expect(backfilled.code).toBe(0);
    // Redmine's database outlives test runs and holds the issues earlier runs wrote back: new tickets start above them.
    await tickets.pool.query("select setval('ticket_ids', greatest(1000000, (select coalesce(max(id), 0) + 1 from tickets)), false)");
    service = await startIssueService({
      databaseUrl: tickets.url,
      project: { id: redmine.project.id, identifier: redmine.project.identifier, name: 'Strangler' },
      people: [{ id: 1, login: 'admin', name: 'Redmine Admin', apiKey: redmine.apiKey }],
    });
    processes.stranglerDaemon('service relay', ['relay', '--mode', 'polling', '--name', 'tickets', '--metrics-port', '0'], { DATABASE_URL: tickets.url });
    processes.stranglerDaemon('sync into legacy', ['sync', 'all', '--into', 'legacy', '--group-id', uniqueName('redmine-legacy'), '--metrics-port', '0']);
  }, COLD_START_MS);

  afterAll(async () => {
    await processes.stopAll();
    await service?.close();
    await tickets?.drop();
  }, 60_000);

  it('an issue created and changed through the service reaches Redmine: API, HTML page, nested set, and Redmine saves it', async () => {
    const subject = `Written back ${uniqueName('issue')}`;
    const created = await call(service.url, 'POST', '/issues.json', { issue: { project_id: redmine.project.identifier, subject, priority_id: 3 } });
    expect(created.status).toBe(201);
    const { issue } = (await created.json()) as { issue: RedmineIssue };

    const inRedmine = await eventually(
      async () => {
        const response = await call(redmine.url, 'GET', `/issues/${issue.id}.json`);
        return response.status === 200 ? ((await response.json()) as { issue: RedmineIssue }).issue : undefined;
      },
      60_000,
      `issue ${issue.id} in Redmine`,
    );
    expect(inRedmine).toMatchObject({ id: issue.id, subject, priority: { id: 3, name: 'High' }, status: { id: 1, name: 'New' } });
    const html = await fetch(`${redmine.url}/issues/${issue.id}`).then((response) => response.text());
    expect(html).toContain(`<title>Bug #${issue.id}: ${subject} - Strangler - Redmine</title>`);
    const database = new Client({ connectionString: redmine.databaseUrl });
    await database.connect();
    try {
      const { rows } = await database.query('select root_id, lft, rgt, parent_id from issues where id = $1', [issue.id]);
      expect(rows[0]).toEqual({ root_id: issue.id, lft: 1, rgt: 2, parent_id: null });
    } finally {
      await database.end();
    }

    expect((await call(service.url, 'PUT', `/issues/${issue.id}.json`, { issue: { status_id: 2, subject: `${subject} (in progress)` } })).status).toBe(204);
    await eventually(
      async () => {
        const response = await call(redmine.url, 'GET', `/issues/${issue.id}.json`);
        const { issue: read } = (await response.json()) as { issue: RedmineIssue };
        return read.status.id === 2 && read.subject === `${subject} (in progress)`;
      },
      60_000,
      `issue ${issue.id} in progress in Redmine`,
    );
    // Redmine's own validations accept the written-back issue when it next saves it.
    expect((await call(redmine.url, 'PUT', `/issues/${issue.id}.json`, { issue: { done_ratio: 30 } })).status).toBe(204);
  });
});
