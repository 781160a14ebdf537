import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startRedmine, type RunningRedmine } from '../../infra';
import { applySchema, startIssueService, type Person, type RunningIssueService } from '../../examples/redmine/service/issues-service';
import { createTestDatabase, eventually, freePort, stranglerEnv, TestProcesses, uniqueName, UnleashAdmin, type TestDatabase } from '../helpers';

const ROOT = path.resolve(__dirname, '../..');
const EXAMPLE = path.join(ROOT, 'examples', 'redmine');
const ADMIN_TOKEN = 'redmine-admin-token';
const COLD_START_MS = 8 * 60_000;
const USERS = 8;
/** Least privilege, as the README asks a team to grant: capture (REPLICATION, SELECT) and write-back (no REPLICATION). */
const CAPTURE_ROLE = 'strangler_redmine_capture';
const SYNC_ROLE = 'strangler_redmine_sync';
/** Redmine's built-in Developer role of its default data (examples/redmine/NOTES.md): may add and edit issues. */
const DEVELOPER_ROLE_ID = 4;
const USER_COLUMNS = 'id, login, firstname, lastname';

type Side = 'redmine' | 'service';
interface Written {
  subject: string;
  statusId: number;
  /** Writes of this issue that each side answered (the other side must have applied each once). */
  writes: Record<Side, number>;
}
interface IssueJson {
  id: number;
  subject: string;
  status: { id: number };
  author?: { id: number; name: string };
}

/**
 * Issue 37's end to end: Redmine as Debian ships it behind `strangler proxy`, its issue API moving to the issue service
 * (examples/redmine) with nothing but the CLI and nothing added to Redmine's database but a publication and a slot.
 * Sticky API users create, change and read issues through the proxy at 0, 50, 100 and back to 0 %; at 100 % issues
 * are also written in Redmine directly. After each step: `strangler verify` finds 0 drift, every write is on both
 * sides, each side applied exactly the other's writes (no echo), and no request got an unexpected answer.
 */
describe('examples/redmine: strangling an unmodified Redmine, 0 -> 50 -> 100 -> 0 %', () => {
  const unleash = new UnleashAdmin();
  const flag = uniqueName('redmine-issues').replace(/_/g, '-');
  const relayName = uniqueName('redmine_e2e');
  const publication = `strangler_${relayName}`;
  const topicPrefix = uniqueName('redmine');
  let workDir: string;
  let env: NodeJS.ProcessEnv;
  let redmine: RunningRedmine;
  let redmineDb: Client;
  let tickets: TestDatabase;
  let service: RunningIssueService;
  let proxyUrl: string;
  let syncMetrics: Record<'legacy' | 'service', string>;
  let users: Person[];
  let catalogBefore: string[];
  const processes = new TestProcesses({ cwd: () => ROOT, env: () => env });
  const written = new Map<number, Written>();
  /** Issues Redmine keeps in a tree of their own (a parent and its child): every other issue written is a root. */
  const treeIssues: number[] = [];

  const roleUrl = (role: string) => {
    const url = new URL(redmine.databaseUrl);
    url.username = role;
    url.password = '';
    return url.toString();
  };
  /** Tables, sequences, indexes, views, triggers and functions of Redmine's database, to show nothing was added. */
  const catalog = async () =>
    (
      await redmineDb.query<{ object: string }>(
        `select c.relkind::text || ' ' || n.nspname || '.' || c.relname as object from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
         union all select 'trigger ' || tgname from pg_trigger where not tgisinternal
         union all select 'function ' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname not in ('pg_catalog', 'information_schema')
         order by 1`,
      )
    ).rows.map((row) => row.object);
  const request = async (base: string, method: string, route: string, apiKey: string, body?: unknown) => {
    const response = await fetch(`${base}${route}`, {
      method,
      headers: { 'X-Redmine-API-Key': apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    // Rails stamps every answer with X-Runtime; the service does not.
    const side: Side = response.headers.has('x-runtime') ? 'redmine' : 'service';
    return { status: response.status, side, body: text ? (JSON.parse(text) as { issue?: IssueJson; errors?: string[] }) : undefined };
  };
  /** strangler_sync_events_total of one sync process for issues, summed by outcome; and its conflicts. */
  const syncCounts = async (into: 'legacy' | 'service') => {
    const text = await fetch(`${syncMetrics[into]}/metrics`).then((response) => response.text());
    const counts: Record<string, number> = {};
    for (const [, labels, value] of text.matchAll(/^strangler_sync_events_total\{([^}]*)\} (\S+)$/gm)) {
      const outcome = /outcome="(\w+)"/.exec(labels!)![1]!;
      if (labels!.includes('aggregatetype="issue"')) counts[outcome] = (counts[outcome] ?? 0) + Number(value);
    }
    for (const [, value] of text.matchAll(/^strangler_sync_conflicts_total\{[^}]*\} (\S+)$/gm)) counts.conflicts = (counts.conflicts ?? 0) + Number(value);
    return counts;
  };
  const verifyClean = async () => {
    const verified = await processes.strangler(['verify', 'all', '--attempts', '30', '--interval-ms', '1000']);
    expect(verified).toEqual({
      code: 0,
      stdout: expect.stringMatching(/^issue \(legacy \d+ rows, sfg_redmine_e2e_\w+ \d+ rows\): no drift\nperson \(legacy \d+ rows, sfg_redmine_e2e_\w+ \d+ rows\): no drift$/m),
      stderr: '',
    });
  };
  /** Both sides answer every written issue with its last change and its author's current name, each through its own API. */
  const bothSidesHold = async () => {
    for (const [id, last] of written) {
      const [inRedmine, inService] = await Promise.all([redmine.url, service.url].map((base) => request(base, 'GET', `/issues/${id}.json`, redmine.apiKey)));
      const expected = { id, status: 200, subject: last.subject, statusId: last.statusId };
      expect({ id, status: inRedmine!.status, subject: inRedmine!.body?.issue?.subject, statusId: inRedmine!.body?.issue?.status.id }).toEqual(expected);
      expect({ id, status: inService!.status, subject: inService!.body?.issue?.subject, statusId: inService!.body?.issue?.status.id }).toEqual(expected);
      expect({ id, author: inService!.body?.issue?.author }).toEqual({ id, author: inRedmine!.body?.issue?.author });
    }
  };
  const lockVersion = async (id: number) => (await redmineDb.query<{ lock_version: number }>('select lock_version from issues where id = $1', [id])).rows[0]!.lock_version;
  const writesBy = (side: Side) => [...written.values()].reduce((sum, issue) => sum + issue.writes[side], 0);

  beforeAll(async () => {
    redmine = await startRedmine({ log: (line) => process.stderr.write(`[redmine] ${line}\n`) });
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-redmine-e2e-'));
    redmineDb = new Client({ connectionString: redmine.databaseUrl });
    await redmineDb.connect();
    // Slots of runs that were killed before their cleanup hold WAL: drop the inactive ones.
    await redmineDb.query(`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name like 'strangler_redmine_e2e%' and not active and database = current_database()`);
    for (const { pubname } of (await redmineDb.query<{ pubname: string }>(`select pubname from pg_publication where pubname like 'strangler_redmine_e2e%'`)).rows) {
      await redmineDb.query(`drop publication "${pubname}"`);
    }
    catalogBefore = await catalog();

    // What a team grants on its own database (README): the publication, made by the tables' owner; a capture role
    // with REPLICATION that reads the captured table; a sync role that reads and writes it.
    await redmineDb.query(`do $$ begin
        if not exists (select from pg_roles where rolname = '${CAPTURE_ROLE}') then create role ${CAPTURE_ROLE} login replication; end if;
        if not exists (select from pg_roles where rolname = '${SYNC_ROLE}') then create role ${SYNC_ROLE} login; end if;
      end $$`);
    // Of users, only the columns the service needs: the publication's column list and the column grants keep the
    // password hashes, salts and two-factor keys in Redmine.
    await redmineDb.query(`grant select on public.issues to ${CAPTURE_ROLE}; grant select, insert, update on public.issues to ${SYNC_ROLE};
      grant select (${USER_COLUMNS}) on public.users to ${CAPTURE_ROLE}, ${SYNC_ROLE}`);
    await redmineDb.query(`create publication "${publication}" for table public.issues, public.users (${USER_COLUMNS})`);

    // Redmine's own users, each with an API key and the Developer role in the project: the proxy sticks each to a side.
    users = [];
    for (let index = 1; index <= USERS; index += 1) users.push(await redmineUser(redmine, `sfg-e2e-${index}`));
    // Issues that predate the capture (what backfill is for), and service ids above every id Redmine holds.
    for (let index = 0; index < 3; index += 1) {
      const created = await request(redmine.url, 'POST', '/issues.json', redmine.apiKey, { issue: { project_id: redmine.project.identifier, subject: `Before the capture ${index}` } });
      expect(created.status).toBe(201);
    }

    tickets = await createTestDatabase('sfg_redmine_e2e');
    await applySchema(tickets.pool);
    const highest = (await redmineDb.query<{ id: number | null }>('select max(id) as id from issues')).rows[0]!.id ?? 0;
    await tickets.pool.query("select setval('ticket_ids', greatest(1000000, $1::bigint + 1), false)", [highest]);
    service = await startIssueService({
      databaseUrl: tickets.url,
      project: { id: redmine.project.id, identifier: redmine.project.identifier, name: 'Strangler' },
      people: [{ id: 1, login: 'admin', name: 'Redmine Admin', apiKey: redmine.apiKey }, ...users],
    });

    // The example's mapping, with this run's topic prefix (the relay's --topic-prefix), its translators where they are.
    const mapping = path.join(workDir, 'mapping.yaml');
    const mappingText = fs.readFileSync(path.join(EXAMPLE, 'mapping.yaml'), 'utf8');
    expect(mappingText).toMatch(/^ {2}topicPrefix: redmine\b/m);
    fs.writeFileSync(mapping, mappingText.replace(/^( {2}topicPrefix:) redmine\b/m, `$1 ${topicPrefix}`).replace(/(translators:) \.\//g, `$1 ${EXAMPLE}/`));

    const [proxyPort, adminPort, legacyMetricsPort, serviceMetricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    proxyUrl = `http://127.0.0.1:${proxyPort}`;
    syncMetrics = { legacy: `http://127.0.0.1:${legacyMetricsPort}`, service: `http://127.0.0.1:${serviceMetricsPort}` };
    env = {
      ...stranglerEnv(adminPort, ADMIN_TOKEN),
      STRANGLER_MAPPING: mapping,
      STRANGLER_LEGACY_URL: roleUrl(SYNC_ROLE),
      STRANGLER_SERVICE_URL: tickets.url,
      OUTBOX_TOPIC_PREFIX: `${topicPrefix}.outbox.`,
      REDMINE_PROXY_PORT: String(proxyPort),
      REDMINE_ADMIN_PORT: String(adminPort),
      REDMINE_URL: redmine.url,
      ISSUES_URL: service.url,
      REDMINE_ISSUES_FLAG: flag,
      REDMINE_FLAG_BACKUP_DIR: path.join(workDir, 'flags'),
      LOG_LEVEL: 'warn',
    };
    await unleash.createFlag(flag, { description: 'examples/redmine: the issue API to the issue service' });
    processes.stranglerDaemon('proxy', ['proxy', '--config', path.join(EXAMPLE, 'proxy.yaml')]);
    await eventually(() => fetch(`${env.STRANGLER_ADMIN_URL}/readyz`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.ok, () => false), 60_000, 'proxy /readyz');
  }, COLD_START_MS);

  afterAll(async () => {
    await processes.stopAll();
    await unleash.deleteFlag(flag).catch(() => undefined);
    await service?.close();
    await tickets?.drop();
    if (redmineDb) {
      // Redmine's database outlives the run: leave it as it was, but for the issues written.
      await redmineDb.query(`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active`, [publication]).catch(() => undefined);
      await redmineDb.query(`drop publication if exists "${publication}"`).catch(() => undefined);
      await redmineDb.end();
    }
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  }, 60_000);

  it('serves Redmine through the proxy while the flag is at 0 %, its HTML pages and other routes included', async () => {
    const list = await request(proxyUrl, 'GET', '/issues.json?limit=5', users[0]!.apiKey);
    expect(list).toMatchObject({ status: 200, side: 'redmine' });
    const direct = await request(redmine.url, 'GET', '/issues.json?limit=5', users[0]!.apiKey);
    expect(list.body).toEqual(direct.body);
    const page = await fetch(`${proxyUrl}/projects/${redmine.project.identifier}/issues`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Issues - Strangler - Redmine</title>');
  });

  it('captures Redmine\'s issues, backfills what predates the capture, syncs both ways and verifies 0 drift', async () => {
    // The capture role owns nothing: it streams the owner's publication and creates only its slot.
    processes.stranglerDaemon('capture relay', ['relay', '--mode', 'tables', '--tables', 'public.issues,public.users', '--name', relayName, '--publication', publication, '--topic-prefix', topicPrefix, '--origin', 'legacy', '--metrics-port', '0'], {
      DATABASE_URL: roleUrl(CAPTURE_ROLE),
    });
    processes.stranglerDaemon('service relay', ['relay', '--mode', 'polling', '--name', 'tickets', '--metrics-port', '0'], { DATABASE_URL: tickets.url });
    await eventually(async () => (await redmineDb.query('select 1 from pg_replication_slots where slot_name = $1', [publication])).rowCount === 1, 60_000, `slot ${publication}`);

    const before = await processes.strangler(['verify', 'all']);
    expect(before).toMatchObject({ code: 1, stdout: expect.stringMatching(/missing in sfg_redmine_e2e/), stderr: '' });
    const backfilled = await processes.strangler(['backfill', 'all']);
    expect(backfilled.code).toBe(0);
    expect(backfilled.stderr + backfilled.stdout).toMatch(/(\d+)\/\1 copied \1 skipped 0/);

    processes.stranglerDaemon('sync into service', ['sync', 'all', '--into', 'service', '--group-id', `${relayName}-service`, '--metrics-port', syncMetrics.service.split(':').pop()!]);
    processes.stranglerDaemon('sync into legacy', ['sync', 'all', '--into', 'legacy', '--group-id', `${relayName}-legacy`, '--metrics-port', syncMetrics.legacy.split(':').pop()!]);
    await verifyClean();
    // Nothing was added to Redmine's database (the publication and the slot are not relations).
    expect(await catalog()).toEqual(catalogBefore);
  });

  it('moves the issue API 0 -> 50 -> 100 -> 0 % with sticky users: 0 drift, 0 lost writes, 0 echoes after each step', async () => {
    const sidesAt = new Map<number, Set<Side>>();
    let step = 0;
    for (const percent of [0, 50, 100, 0]) {
      step += 1;
      const flipped = await processes.strangler(['flip', 'issues', String(percent), '--wait-ms', '30000']);
      expect(flipped).toMatchObject({ code: 0, stdout: expect.stringContaining(`${flag}: flexibleRollout ${percent}% confirmed by Unleash`) });
      const countsBefore = { legacy: await syncCounts('legacy'), service: await syncCounts('service') };
      const writesBefore = { redmine: writesBy('redmine'), service: writesBy('service') };

      const sides = new Set<Side>();
      await Promise.all(
        users.map(async (user, index) => {
          const seen = new Set<Side>();
          const subject = `${user.login} at step ${step} (${percent} %)`;
          const created = await request(proxyUrl, 'POST', '/issues.json', user.apiKey, { issue: { project_id: redmine.project.identifier, subject, priority_id: 2 + (index % 3) } });
          expect({ status: created.status, errors: created.body?.errors }).toEqual({ status: 201, errors: undefined });
          const id = created.body!.issue!.id;
          seen.add(created.side);
          const issue: Written = { subject, statusId: 1, writes: { redmine: 0, service: 0 } };
          written.set(id, issue);
          issue.writes[created.side] += 1;
          for (const [round, statusId] of [2, 4].entries()) {
            const changed = `${subject}, change ${round + 1}`;
            const updated = await request(proxyUrl, 'PUT', `/issues/${id}.json`, user.apiKey, { issue: { subject: changed, status_id: statusId, done_ratio: 10 * (round + 1) } });
            expect({ status: updated.status, errors: updated.body?.errors }).toEqual({ status: 204, errors: undefined });
            seen.add(updated.side);
            issue.subject = changed;
            issue.statusId = statusId;
            issue.writes[updated.side] += 1;
          }
          const read = await request(proxyUrl, 'GET', `/issues/${id}.json`, user.apiKey);
          expect(read).toMatchObject({ status: 200, body: { issue: { id, subject: issue.subject, status: { id: issue.statusId } } } });
          seen.add(read.side);
          // Sticky: one user, one side, for the whole step.
          expect([...seen]).toHaveLength(1);
          sides.add([...seen][0]!);
        }),
      );

      if (percent === 100) {
        // Redmine's own screens and scripts keep writing: an issue the service wrote, changed in Redmine directly,
        // and a new issue made there.
        const [serviceIssue] = [...written.entries()].filter(([id, issue]) => id >= 1_000_000 && issue.writes.service > 0 && issue.writes.redmine === 0).slice(-1);
        expect(serviceIssue).toBeDefined();
        const [id, issue] = serviceIssue!;
        // The admin edits what Redmine shows: the issue once written back.
        await eventually(async () => (await request(redmine.url, 'GET', `/issues/${id}.json`, redmine.apiKey)).body?.issue?.subject === issue.subject, 30_000, `issue ${id} written back`);
        issue.subject = `${issue.subject}, edited in Redmine`;
        const edited = await request(redmine.url, 'PUT', `/issues/${id}.json`, users[0]!.apiKey, { issue: { subject: issue.subject } });
        expect({ status: edited.status, errors: edited.body?.errors }).toEqual({ status: 204, errors: undefined });
        issue.writes.redmine += 1;
        const subject = `Made in Redmine at step ${step}`;
        const created = await request(redmine.url, 'POST', '/issues.json', users[1]!.apiKey, { issue: { project_id: redmine.project.identifier, subject } });
        expect(created.status).toBe(201);
        written.set(created.body!.issue!.id, { subject, statusId: 1, writes: { redmine: 1, service: 0 } });
        // A user renamed in Redmine: the service names the author of that user's issues anew (aggregate person).
        const renamed = await fetch(`${redmine.url}/users/${users[2]!.id}.json`, {
          method: 'PUT',
          headers: { 'X-Redmine-API-Key': redmine.apiKey, 'content-type': 'application/json' },
          body: JSON.stringify({ user: { lastname: `Renamed ${Date.now().toString(36)}` } }), // Redmine allows 30 characters
        });
        expect({ status: renamed.status, body: await renamed.text() }).toEqual({ status: 204, body: '' });

        // Redmine's optimistic locking holds: an editor who loaded an issue before the service changed it gets
        // Redmine's conflict instead of overwriting the service's change (lockVersion in the mapping).
        const [lockedId, locked] = [...written.entries()].filter(([other, issue]) => other >= 1_000_000 && other !== id && issue.writes.redmine === 0).slice(-1)[0]!;
        await eventually(async () => (await request(redmine.url, 'GET', `/issues/${lockedId}.json`, redmine.apiKey)).body?.issue?.subject === locked.subject, 30_000, `issue ${lockedId} written back`);
        const loaded = await lockVersion(lockedId);
        locked.subject = `${locked.subject}, changed again`;
        expect((await request(proxyUrl, 'PUT', `/issues/${lockedId}.json`, users[3]!.apiKey, { issue: { subject: locked.subject } })).status).toBe(204);
        locked.writes.service += 1;
        await eventually(async () => (await lockVersion(lockedId)) > loaded, 30_000, `issue ${lockedId}'s lock version moved`);
        const stale = await request(redmine.url, 'PUT', `/issues/${lockedId}.json`, users[0]!.apiKey, { issue: { subject: 'a stale edit', lock_version: loaded } });
        // Redmine's API answers a stale lock_version with 422 and an empty errors array (its HTML form names the conflict).
        expect({ status: stale.status, errors: stale.body?.errors }).toEqual({ status: 422, errors: [] });
        expect((await request(redmine.url, 'GET', `/issues/${lockedId}.json`, redmine.apiKey)).body?.issue?.subject).toBe(locked.subject);

        // A child issue made in Redmine and changed through the service keeps its place in its parent's tree.
        const parent = await request(redmine.url, 'POST', '/issues.json', users[1]!.apiKey, { issue: { project_id: redmine.project.identifier, subject: `Parent at step ${step}` } });
        const child = await request(redmine.url, 'POST', '/issues.json', users[1]!.apiKey, { issue: { project_id: redmine.project.identifier, subject: `Child at step ${step}`, parent_issue_id: parent.body?.issue?.id } });
        expect([parent.status, child.status]).toEqual([201, 201]);
        const [parentId, childId] = [parent.body!.issue!.id, child.body!.issue!.id];
        const tree = async () => (await redmineDb.query('select id, parent_id, root_id, lft, rgt from issues where id = any($1) order by id', [[parentId, childId]])).rows;
        const treeBefore = await tree();
        expect(treeBefore).toEqual([
          { id: parentId, parent_id: null, root_id: parentId, lft: 1, rgt: 4 },
          { id: childId, parent_id: parentId, root_id: parentId, lft: 2, rgt: 3 },
        ]);
        // Two writes of Redmine's to the parent: its creation, and its tree made room for the child.
        written.set(parentId, { subject: `Parent at step ${step}`, statusId: 1, writes: { redmine: 2, service: 0 } });
        const changedChild: Written = { subject: `Child at step ${step}, changed by the service`, statusId: 1, writes: { redmine: 1, service: 1 } };
        written.set(childId, changedChild);
        treeIssues.push(parentId, childId);
        await eventually(async () => (await request(service.url, 'GET', `/issues/${childId}.json`, redmine.apiKey)).status === 200, 30_000, `child ${childId} in the service`);
        expect((await request(proxyUrl, 'PUT', `/issues/${childId}.json`, users[3]!.apiKey, { issue: { subject: changedChild.subject } })).status).toBe(204);
        await eventually(async () => (await request(redmine.url, 'GET', `/issues/${childId}.json`, redmine.apiKey)).body?.issue?.subject === changedChild.subject, 30_000, `child ${childId} written back`);
        expect(await tree()).toEqual(treeBefore);
      }
      if (step === 4) {
        // Back on Redmine, its users change the issues the service wrote: Redmine's validations accept them.
        for (const [id, issue] of [...written.entries()].filter(([, issue]) => issue.writes.redmine === 0)) {
          issue.subject = `${issue.subject}, saved by Redmine`;
          const saved = await request(proxyUrl, 'PUT', `/issues/${id}.json`, users[0]!.apiKey, { issue: { subject: issue.subject } });
          expect({ id, status: saved.status, side: saved.side, errors: saved.body?.errors }).toEqual({ id, status: 204, side: 'redmine', errors: undefined });
          issue.writes.redmine += 1;
        }
      }
      sidesAt.set(percent, new Set([...(sidesAt.get(percent) ?? []), ...sides]));

      await verifyClean();
      await bothSidesHold();
      // Each side handled exactly the other's writes. Into Redmine: each service write once (applied, or stale when a
      // later write of the same issue came in the same batch and carried it), and the capture of each write-back
      // dropped as the service's own. Into the service: Redmine's writes, read through (two quick changes of one
      // issue may land as one), never a write-back coming back.
      const serviceWrites = writesBy('service') - writesBefore.service;
      const redmineWrites = writesBy('redmine') - writesBefore.redmine;
      const delta = async (into: 'legacy' | 'service', outcome: string) => ((await syncCounts(into))[outcome] ?? 0) - (countsBefore[into][outcome] ?? 0);
      await eventually(async () => (await delta('legacy', 'applied')) + (await delta('legacy', 'stale')) >= serviceWrites, 30_000, `${serviceWrites} service writes handled in Redmine`);
      const appliedInRedmine = await delta('legacy', 'applied');
      await eventually(async () => (await delta('service', 'skipped')) >= appliedInRedmine, 30_000, `the capture of ${appliedInRedmine} write-backs skipped`);
      expect({
        step,
        handledInRedmine: appliedInRedmine + (await delta('legacy', 'stale')),
        writeBacksSkipped: await delta('service', 'skipped'),
        conflicts: (await delta('legacy', 'conflicts')) + (await delta('service', 'conflicts')),
      }).toEqual({ step, handledInRedmine: serviceWrites, writeBacksSkipped: appliedInRedmine, conflicts: 0 });
      const appliedInService = await delta('service', 'applied');
      expect(appliedInService).toBeLessThanOrEqual(redmineWrites);
      expect(appliedInService > 0).toBe(redmineWrites > 0);
      const echoed = await tickets.pool.query<{ id: number }>(`select id from tickets where id = any($1) and written_by <> 'tickets'`, [
        [...written.entries()].filter(([, issue]) => issue.writes.redmine === 0).map(([id]) => id),
      ]);
      expect(echoed.rows).toEqual([]);
    }

    expect([...sidesAt.get(0)!]).toEqual(['redmine']);
    expect([...sidesAt.get(50)!].sort()).toEqual(['redmine', 'service']);
    expect([...sidesAt.get(100)!]).toEqual(['service']);

    // Back at 0 %: Redmine's own pages show every issue written on either side with its last change, as roots of
    // their nested sets.
    for (const [id, issue] of written) {
      const page = await fetch(`${proxyUrl}/issues/${id}`).then((response) => response.text());
      expect(page).toContain(`#${id}: ${issue.subject.replace(/&/g, '&amp;')} - Strangler - Redmine</title>`);
    }
    const { rows } = await redmineDb.query<{ id: number }>('select id from issues where id = any($1) and (root_id <> id or lft <> 1 or rgt <> 2)', [
      [...written.keys()].filter((id) => !treeIssues.includes(id)),
    ]);
    expect(rows).toEqual([]);
    expect([...written.keys()].filter((id) => id >= 1_000_000).length).toBeGreaterThan(0);
    expect(await catalog()).toEqual(catalogBefore);
  }, 600_000);
});

/** A Redmine user with an API key and the Developer role in the test project, made through Redmine's API once. */
async function redmineUser(redmine: RunningRedmine, login: string): Promise<Person> {
  const admin = { 'X-Redmine-API-Key': redmine.apiKey, 'content-type': 'application/json' };
  const found = (await fetch(`${redmine.url}/users.json?name=${login}`, { headers: admin }).then((response) => response.json())) as { users: { id: number; login: string }[] };
  let id = found.users.find((user) => user.login === login)?.id;
  if (id === undefined) {
    const created = await fetch(`${redmine.url}/users.json`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ user: { login, firstname: 'Strangler', lastname: login, mail: `${login}@example.org`, password: `${login}-password` } }),
    });
    if (created.status !== 201) throw new Error(`creating Redmine user ${login}: ${created.status} ${await created.text()}`);
    id = ((await created.json()) as { user: { id: number } }).user.id;
  }
  const membership = await fetch(`${redmine.url}/projects/${redmine.project.identifier}/memberships.json`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ membership: { user_id: id, role_ids: [DEVELOPER_ROLE_ID] } }),
    });
  // 422 "User has already been taken": a member since an earlier run.
  if (membership.status !== 201 && membership.status !== 422) throw new Error(`making ${login} a developer of ${redmine.project.identifier}: ${membership.status} ${await membership.text()}`);
  const { user } = (await fetch(`${redmine.url}/users/${id}.json`, { headers: admin }).then((response) => response.json())) as { user: { firstname: string; lastname: string; api_key: string } };
  return { id, login, name: `${user.firstname} ${user.lastname}`, apiKey: user.api_key };
}
