import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianPackage } from '../../infra';
import { createTestDatabase, eventually, freePort, stranglerEnv, TestProcesses, uniqueName, UnleashAdmin, type TestDatabase } from '../helpers';

const ROOT = path.resolve(__dirname, '../..');
const EXAMPLE = path.join(ROOT, 'examples', 'library');
const MAPPING = path.join(EXAMPLE, 'mapping.yaml');
const ADMIN_TOKEN = 'library-admin-token';
/** Debian's interpreter, where apt puts python3-psycopg2 (a pyenv python on PATH would not see it). */
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SEEDED_BOOKS = 40;

interface Book {
  id: number;
  title: string;
  shelf: string;
  replacementCost: number;
  status: string;
  version: number;
  servedBy: 'legacy' | 'catalog';
}

/**
 * The second monolith, migrated the way the README's "Adopt it in front of your monolith" says, with nothing but
 * the `strangler` CLI: a Python lending library (examples/library, no project code) behind `strangler proxy`;
 * its /books route extracted to a Python catalogue service whose tables are shaped differently; `strangler relay`
 * on each database, `strangler backfill` and `strangler verify` through the example's mapping, `strangler sync`
 * both ways, and `strangler flip` 0 -> 50 -> 100 -> 0 with traffic, verifying 0 drift after each step.
 */
describe('examples/library: a Python monolith migrated with the strangler CLI alone', () => {
  const unleash = new UnleashAdmin();
  const flag = uniqueName('library-books').replace(/_/g, '-');
  const topicPrefix = `${uniqueName('library')}.`;
  let library: TestDatabase;
  let catalog: TestDatabase;
  let proxyUrl: string;
  let env: NodeJS.ProcessEnv;
  let workDir: string;

  const processes = new TestProcesses({ cwd: () => workDir, env: () => env });
  const daemon = (name: string, command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => processes.daemon(name, command, args, extraEnv);
  const strangler = (args: string[]) => processes.strangler(args);
  const verifyClean = async () => {
    const verified = await strangler(['verify', 'all', '--attempts', '30', '--interval-ms', '1000']);
    expect(verified).toMatchObject({ code: 0, stdout: expect.stringMatching(/^book \(legacy \d+ rows, sfg_library_catalog_\w+ \d+ rows\): no drift$/m) });
    return verified.stdout;
  };
  const call = async (method: string, url: string, user: string, body?: unknown): Promise<{ status: number; body: Book & { error?: string } }> => {
    const response = await fetch(url, {
      method,
      headers: { 'x-user-id': user, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as Book & { error?: string } };
  };

  beforeAll(async () => {
    const python = ensureDebianPackage(
      { command: PYTHON, pkg: 'python3-psycopg2', purpose: 'the example library monolith', present: () => spawnSync(PYTHON, ['-c', 'import psycopg2']).status === 0 },
      (line) => console.log(line),
    );
    if (!python.available) throw new Error(`the example needs Python 3 with psycopg2: ${python.reason}`);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-library-'));
    [library, catalog] = await Promise.all([createTestDatabase('sfg_library_legacy'), createTestDatabase('sfg_library_catalog')]);
    const [libraryPort, catalogPort, proxyPort, adminPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    proxyUrl = `http://127.0.0.1:${proxyPort}`;
    env = {
      ...stranglerEnv(adminPort, ADMIN_TOKEN),
      STRANGLER_MAPPING: MAPPING,
      STRANGLER_LEGACY_URL: library.url,
      STRANGLER_SERVICE_URL: catalog.url,
      OUTBOX_TOPIC_PREFIX: topicPrefix,
      LIBRARY_PROXY_PORT: String(proxyPort),
      LIBRARY_ADMIN_PORT: String(adminPort),
      LIBRARY_URL: `http://127.0.0.1:${libraryPort}`,
      CATALOG_URL: `http://127.0.0.1:${catalogPort}`,
      LIBRARY_BOOKS_FLAG: flag,
      LIBRARY_FLAG_BACKUP_DIR: path.join(workDir, 'flags'),
      LOG_LEVEL: 'warn',
      PYTHONDONTWRITEBYTECODE: '1',
    };
    await unleash.createFlag(flag, { description: 'examples/library: /books to the catalogue service' });

    daemon('library monolith', PYTHON, [path.join(EXAMPLE, 'monolith.py')], { DATABASE_URL: library.url, PORT: String(libraryPort), SEED_BOOKS: String(SEEDED_BOOKS) });
    daemon('catalog service', PYTHON, [path.join(EXAMPLE, 'catalog_service.py')], { DATABASE_URL: catalog.url, PORT: String(catalogPort) });
    for (const url of [env.LIBRARY_URL!, env.CATALOG_URL!]) {
      await eventually(() => fetch(`${url}/healthz`).then((r) => r.ok, () => false), 30_000, `${url}/healthz`);
    }
    processes.stranglerDaemon('proxy', ['proxy', '--config', path.join(EXAMPLE, 'proxy.yaml')]);
    await eventually(() => fetch(`${env.STRANGLER_ADMIN_URL}/readyz`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.ok, () => false), 60_000, 'proxy /readyz');
  }, 180_000);

  afterAll(async () => {
    await processes.stopAll();
    await unleash.deleteFlag(flag).catch(() => undefined);
    await Promise.all([library?.drop(), catalog?.drop()]);
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  }, 60_000);

  it('serves the monolith through the proxy with the flag at 0', async () => {
    const book = await call('GET', `${proxyUrl}/books/1`, 'reader');
    expect(book).toMatchObject({ status: 200, body: { id: 1, title: 'Book 1', servedBy: 'legacy' } });
    const list = await fetch(`${proxyUrl}/books`, { headers: { 'x-user-id': 'reader' } }).then((r) => r.json() as Promise<Book[]>);
    expect(list).toHaveLength(SEEDED_BOOKS);
    // Routes that stay on legacy are untouched by the extraction.
    const member = await call('POST', `${proxyUrl}/members`, 'reader', { name: 'Ada', email: 'ada@example.org' });
    expect(member.status).toBe(201);
  });

  it('relays both outboxes, backfills the books that predate the outbox, syncs both ways and verifies 0 drift', async () => {
    processes.stranglerDaemon('legacy relay', ['relay', '--mode', 'polling', '--name', 'library', '--metrics-port', '0'], { DATABASE_URL: library.url });
    processes.stranglerDaemon('catalog relay', ['relay', '--mode', 'polling', '--name', 'catalog', '--metrics-port', '0'], { DATABASE_URL: catalog.url });

    const before = await strangler(['verify', 'all']);
    expect(before.code).toBe(1);
    expect(before.stdout).toContain(`${SEEDED_BOOKS} missing in`);

    const backfilled = await strangler(['backfill', 'all']);
    expect(backfilled.code).toBe(0);
    expect(backfilled.stderr + backfilled.stdout).toMatch(new RegExp(`${SEEDED_BOOKS}/${SEEDED_BOOKS} copied ${SEEDED_BOOKS} skipped 0`));

    processes.stranglerDaemon('sync into catalog', ['sync', 'all', '--into', 'service', '--group-id', `${flag}-catalog`, '--metrics-port', '0']);
    processes.stranglerDaemon('sync into legacy', ['sync', 'all', '--into', 'legacy', '--group-id', `${flag}-legacy`, '--metrics-port', '0']);
    await verifyClean();

    // A write on legacy reaches the service's two tables, in cents and in the service's vocabulary.
    const changed = await call('PATCH', `${env.LIBRARY_URL}/books/2`, 'librarian', { replacementCost: 19.99, status: 'withdrawn' });
    expect(changed).toMatchObject({ status: 200, body: { version: 2 } });
    await eventually(
      async () => (await catalog.pool.query(`select c.cost_cents, c.availability, t.revision from titles t join title_copies c using (title_id) where title_id = 2`)).rows[0]?.revision === 2,
      30_000,
      'book 2 v2 in the catalogue',
    );
    const { rows } = await catalog.pool.query(`select c.cost_cents, c.availability, t.written_by from titles t join title_copies c using (title_id) where title_id = 2`);
    expect(rows[0]).toEqual({ cost_cents: 1999, availability: 'withdrawn', written_by: 'legacy' });
    await verifyClean();
  });

  it('flips /books 0 -> 50 -> 100 -> 0 under traffic with no failed request, no lost write and 0 drift after each step', async () => {
    const users = Array.from({ length: 10 }, (_, index) => `reader-${index}`);
    const written = new Map<number, { title: string; shelf: string }>();
    const sidesByPercent = new Map<number, Set<string>>();

    for (const percent of [0, 50, 100, 0]) {
      const flipped = await strangler(['flip', 'books', String(percent), '--wait-ms', '30000']);
      expect(flipped).toMatchObject({ code: 0, stdout: expect.stringContaining(`${flag}: flexibleRollout ${percent}% confirmed by Unleash`) });

      const sides = new Set<string>();
      await Promise.all(
        users.map(async (user) => {
          const sidesOfUser = new Set<string>();
          const created = await call('POST', `${proxyUrl}/books`, user, { title: `${user} at ${percent}%`, author: 'Traffic', shelf: 'T-01', replacementCost: 12.5 });
          expect(created.status).toBe(201);
          sidesOfUser.add(created.body.servedBy);
          const id = created.body.id;
          for (const [step, shelf] of ['T-02', 'T-03'].entries()) {
            const updated = await call('PATCH', `${proxyUrl}/books/${id}`, user, { shelf, replacementCost: 12.5 + step });
            expect(updated).toMatchObject({ status: 200, body: { id, shelf, version: step + 2 } });
            sidesOfUser.add(updated.body.servedBy);
          }
          const read = await call('GET', `${proxyUrl}/books/${id}`, user);
          expect(read).toMatchObject({ status: 200, body: { shelf: 'T-03', replacementCost: 13.5 } });
          sidesOfUser.add(read.body.servedBy);
          written.set(id, { title: created.body.title, shelf: 'T-03' });
          // Sticky: a user stays on one side for the whole step.
          expect([...sidesOfUser]).toHaveLength(1);
          sides.add([...sidesOfUser][0]!);
        }),
      );
      sidesByPercent.set(percent, new Set([...(sidesByPercent.get(percent) ?? []), ...sides]));
      await verifyClean();
    }

    expect([...sidesByPercent.get(0)!]).toEqual(['legacy']);
    expect([...sidesByPercent.get(50)!].sort()).toEqual(['catalog', 'legacy']);
    expect([...sidesByPercent.get(100)!]).toEqual(['catalog']);

    // Back on legacy: every book written on either side is there with its last change, so the rollback lost nothing.
    const { rows } = await library.pool.query<{ id: string; title: string; shelf: string }>(`select id, title, shelf from books where author = 'Traffic'`);
    expect(new Map(rows.map((row) => [Number(row.id), { title: row.title, shelf: row.shelf }]))).toEqual(written);
    expect([...written.keys()].some((id) => id >= 1_000_000)).toBe(true);
  }, 300_000);

  it('reports a bad mapping, every problem at once, before touching a row', async () => {
    const broken = path.join(workDir, 'broken-mapping.yaml');
    fs.writeFileSync(broken, fs.readFileSync(MAPPING, 'utf8').replace('cost: replacement_cost', 'cost: replacement_costs').replace('table: title_copies', 'table: title_copy'));
    const result = await strangler(['verify', 'all', '--mapping', broken]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('SFG_SYNC_SCHEMA_MISMATCH');
    expect(result.stderr).toContain('aggregates.book.legacy.fields.cost: column books.replacement_costs does not exist');
    expect(result.stderr).toContain('aggregates.book.service.joined.0.table: table title_copy does not exist');
  });
});
