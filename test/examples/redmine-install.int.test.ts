import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { redmineMigrationVersions, startRedmine, type RunningRedmine } from '../../infra';
import { uniqueName } from '../helpers';

const PACKAGE_DIR = '/usr/share/redmine';
/** A cold machine installs the packages (about a minute) and migrates a new database before the server starts. */
const COLD_START_MS = 8 * 60_000;

interface RedmineIssue {
  id: number;
  project: { id: number; name: string };
  tracker: { id: number; name: string };
  status: { id: number; name: string; is_closed: boolean };
  priority: { id: number; name: string };
  author: { id: number; name: string };
  subject: string;
  description: string | null;
  lock_version?: number;
  created_on: string;
  updated_on: string;
}

/** Tables Redmine's own migrations create, read from the package: what its database may hold. */
function tablesOfRedmineMigrations(): Set<string> {
  const dir = path.join(PACKAGE_DIR, 'db', 'migrate');
  const names = new Set(['schema_migrations', 'ar_internal_metadata']);
  for (const file of fs.readdirSync(dir)) {
    for (const match of fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/create_table[ (]+[:"']([a-z_]+)/g)) names.add(match[1]!);
  }
  return names;
}

/** Entries of `dir`, recursively, relative to it ('/'-separated); symlinks are listed, not followed. */
function listTree(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = `${prefix}${entry.name}`;
    return entry.isDirectory() ? [relative + '/', ...listTree(path.join(dir, entry.name), `${relative}/`)] : [relative];
  });
}

/**
 * Step 1 of strangling an unmodified monolith: Redmine 5.0 as Debian ships it, installed when missing (apt-get, as a
 * new user would), configured only (database.yml, Gemfile.local naming webrick, REST API on, an API key, a project),
 * on its own database in the local Postgres, and started with `rails server -u webrick -e production`.
 * The run's global teardown stops it when this run started it.
 */
describe("examples/redmine: Debian's Redmine 5.0, unmodified, installed and started by the test setup", () => {
  let redmine: RunningRedmine;
  let database: Client;
  const api = (method: string, route: string, body?: unknown) =>
    fetch(`${redmine.url}${route}`, {
      method,
      headers: { 'X-Redmine-API-Key': redmine.apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  beforeAll(async () => {
    redmine = await startRedmine({ log: (line) => process.stderr.write(`[redmine] ${line}\n`) });
    const { installMs, setupMs, startMs, totalMs } = redmine.timings;
    process.stderr.write(
      `[redmine] ${redmine.startedNow ? 'started' : 'reused'} ${redmine.url} in ${totalMs} ms (install ${installMs} ms, database setup ${setupMs} ms, /projects.json answered ${startMs} ms after spawn)\n`,
    );
    database = new Client({ connectionString: redmine.databaseUrl });
    await database.connect();
  }, COLD_START_MS);

  afterAll(async () => {
    await database?.end();
  });

  it('answers /projects.json with the project the setup created, for the admin API key', async () => {
    const response = await api('GET', '/projects.json');
    expect(response.status).toBe(200);
    const { projects } = (await response.json()) as { projects: { id: number; identifier: string; is_public: boolean }[] };
    expect(projects).toContainEqual(expect.objectContaining({ id: redmine.project.id, identifier: 'strangler', is_public: true }));
    const current = await api('GET', '/users/current.json');
    expect(await current.json()).toMatchObject({ user: { login: 'admin', admin: true } });
  });

  it('creates an issue with POST /issues.json, reads it back as JSON and sees its subject on its HTML page', async () => {
    const subject = `Strangler probe ${uniqueName('issue')}`;
    const created = await api('POST', '/issues.json', { issue: { project_id: redmine.project.identifier, subject, description: 'made by the install test' } });
    expect(created.status).toBe(201);
    const { issue } = (await created.json()) as { issue: RedmineIssue };
    expect(created.headers.get('location')).toBe(`${redmine.url}/issues/${issue.id}`);
    // The default data's first tracker, initial status and default priority; the API key's user as author.
    expect(issue).toMatchObject({
      project: { id: redmine.project.id, name: 'Strangler' },
      tracker: { id: 1, name: 'Bug' },
      status: { id: 1, name: 'New', is_closed: false },
      priority: { id: 2, name: 'Normal' },
      author: { id: 1, name: 'Redmine Admin' },
      subject,
      description: 'made by the install test',
    });
    expect(issue.created_on).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const read = await api('GET', `/issues/${issue.id}.json`);
    expect(read.status).toBe(200);
    expect(((await read.json()) as { issue: RedmineIssue }).issue).toMatchObject({ id: issue.id, subject, created_on: issue.created_on });

    // The public project's issue page, as an anonymous visitor sees it.
    const page = await fetch(`${redmine.url}/issues/${issue.id}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`<title>Bug #${issue.id}: ${subject} - Strangler - Redmine</title>`);
    expect(html).toContain(`<h3>${subject}</h3>`);

    // What Redmine wrote: a root of its own nested set, with the lock_version bump of that second statement.
    const { rows } = await database.query('select root_id, lft, rgt, parent_id, lock_version, created_on = updated_on as untouched from issues where id = $1', [issue.id]);
    expect(rows[0]).toEqual({ root_id: issue.id, lft: 1, rgt: 2, parent_id: null, lock_version: 1, untouched: true });
  });

  it("refuses an invalid issue with 422 and Redmine's errors array", async () => {
    const response = await api('POST', '/issues.json', { issue: { project_id: redmine.project.id, subject: '', priority_id: 999 } });
    expect(response.status).toBe(422);
    expect(await response.json()).toEqual({ errors: ['Subject cannot be blank', 'Priority cannot be blank'] });
    const anonymous = await fetch(`${redmine.url}/issues.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ issue: { project_id: 1, subject: 'x' } }) });
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();
  });

  it("keeps Redmine's database to Redmine's own tables: fully migrated, nothing of ours", async () => {
    const tables = (await database.query(`select table_schema, table_name from information_schema.tables where table_schema not in ('pg_catalog', 'information_schema')`)).rows as { table_schema: string; table_name: string }[];
    expect(new Set(tables.map((table) => table.table_schema))).toEqual(new Set(['public']));
    const names = tables.map((table) => table.table_name);
    expect(names).toEqual(expect.arrayContaining(['issues', 'projects', 'trackers', 'issue_statuses', 'enumerations', 'users', 'journals', 'journal_details', 'tokens', 'settings']));
    const redmineTables = tablesOfRedmineMigrations();
    expect(names.filter((name) => !redmineTables.has(name))).toEqual([]);

    const migrated = (await database.query('select version from schema_migrations')).rows.map((row: { version: string }) => row.version);
    expect(new Set(migrated)).toEqual(new Set(redmineMigrationVersions(PACKAGE_DIR)));

    const extras = await database.query(`
      select (select count(*)::int from pg_publication) as publications,
             (select count(*)::int from pg_replication_slots where database = current_database()) as slots,
             (select count(*)::int from pg_trigger where not tgisinternal) as triggers,
             (select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public') as functions,
             (select count(*)::int from pg_extension where extname <> 'plpgsql') as extensions,
             (select count(*)::int from pg_foreign_data_wrapper) as foreign_wrappers`);
    expect(extras.rows[0]).toEqual({ publications: 0, slots: 0, triggers: 0, functions: 0, extensions: 0, foreign_wrappers: 0 });
  });

  it("runs the package's files unchanged: configuration is all that differs", () => {
    // dpkg's checksums of every file the packages installed (/usr/share/redmine included).
    const verify = spawnSync('dpkg', ['--verify', 'redmine', 'redmine-pgsql', 'ruby-webrick'], { encoding: 'utf8' });
    expect({ status: verify.status, changed: verify.stdout.trim() }).toEqual({ status: 0, changed: '' });

    // The copy that runs is the package's tree, file for file, but for what names our configuration.
    const ours = new Set(['Gemfile.local', 'Gemfile.lock', 'instances']);
    // Written by Rails: tmp/{cache,pids,sockets} at each `rails server`, db/schema.rb after `rake db:migrate`.
    const generated = /^(tmp\/.*|db\/schema\.rb)$/;
    const copied = listTree(redmine.appDir).filter((entry) => !ours.has(entry) && !generated.test(entry));
    const packaged = listTree(PACKAGE_DIR).filter((entry) => !['instances', 'Gemfile.lock', 'config/database.yml'].includes(entry));
    expect(copied).toEqual(packaged);
    const differing = copied.filter((entry) => {
      const [mine, theirs] = [path.join(redmine.appDir, entry), path.join(PACKAGE_DIR, entry)];
      if (entry.endsWith('/')) return false;
      if (fs.lstatSync(theirs).isSymbolicLink()) return fs.readlinkSync(mine) !== fs.readlinkSync(theirs);
      return !fs.readFileSync(mine).equals(fs.readFileSync(theirs));
    });
    expect(differing).toEqual([]);
    expect(fs.readlinkSync(path.join(redmine.appDir, 'instances'))).toBe(path.join('..', 'instances'));
    expect(fs.readFileSync(path.join(redmine.appDir, 'Gemfile.local'), 'utf8')).toMatch(/^gem "webrick"$/m);
  });
});
