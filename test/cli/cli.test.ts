import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../cli';
import { CASE_STUDY_MAPPING_FILE } from '../../case-study/mapping';

/** Runs `strangler <argv>` in-process and returns its exit code and what it printed. */
async function strangler(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const log = jest.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void (out += `${parts.join(' ')}\n`));
  const error = jest.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void (err += `${parts.join(' ')}\n`));
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  try {
    return { code: await main(argv), out, err };
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    log.mockRestore();
    error.mockRestore();
  }
}

describe('strangler CLI usage and errors', () => {
  it('prints its version', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(await strangler(['--version'])).toEqual({ code: 0, out: `${version}\n`, err: '' });
  });

  it.each([['verify'], ['backfill'], ['sync'], ['conflicts'], ['relay'], ['topics'], ['routes'], ['flip'], ['rollout'], ['console'], ['status'], ['explain'], ['proxy']])(
    '%s: an unknown option exits 2 with the error and a pointer to --help, not the whole usage',
    async (command) => {
      const result = await strangler([command, '--bogus']);
      expect(result).toEqual({ code: 2, out: '', err: `strangler ${command}: unknown option '--bogus'\nRun 'strangler ${command} --help' for usage.\n` });
    },
  );

  it('console: needs a rollout file and a token, and says so', async () => {
    expect(await strangler(['console'])).toMatchObject({ code: 2, err: expect.stringContaining('--config <file> is required') });
    const result = await strangler(['console', '--config', 'rollout.yaml', '--port', '70000'], { STRANGLER_ADMIN_TOKEN: 'x'.repeat(16) });
    expect(result).toMatchObject({ code: 2, err: expect.stringContaining("--port must be a port number, got '70000'") });
    expect(await strangler(['console', '--help'])).toMatchObject({ code: 0, out: expect.stringContaining('Usage: strangler console --config <rollout file>') });
  });

  it('says what is wrong with a negative percentage, without node’s hint about --', async () => {
    const result = await strangler(['flip', 'products', '-5']);
    expect(result.code).toBe(2);
    expect(result.err).toContain("<percent> must be an integer from 0 to 100, got '-5'");
    expect(result.err).not.toMatch(/--"|positional argument/);
  });

  it('names the flag, not an internal field, for a bad number', async () => {
    const result = await strangler(['verify', 'all', '--chunk-size', 'abc']);
    expect(result).toMatchObject({ code: 2, err: expect.stringContaining("--chunk-size must be an integer of at least 1, got 'abc'") });
    expect(result.err).not.toContain('chunkSize');
  });

  it('names the database it cannot reach', async () => {
    const args = ['verify', 'product', '--mapping', CASE_STUDY_MAPPING_FILE, '--service', 'postgres://postgres@127.0.0.1:1/catalog'];
    const result = await strangler(args, { DATABASE_URL: 'postgres://postgres:secret@127.0.0.1:1/shop' });
    expect(result.code).toBe(1);
    expect(result.err).toContain('cannot reach the legacy database postgres://postgres:***@127.0.0.1:1/shop');
    expect(result.err).toContain('ECONNREFUSED');
  });

  it('asks for the mapping and the service database before connecting anywhere', async () => {
    const noMapping = await strangler(['backfill', 'product'], { STRANGLER_MAPPING: '' });
    expect(noMapping).toMatchObject({ code: 2, err: expect.stringContaining('--mapping <file> is required (or set STRANGLER_MAPPING)') });
    const noService = await strangler(['verify', 'all', '--mapping', CASE_STUDY_MAPPING_FILE], { STRANGLER_SERVICE_URL: '' });
    expect(noService).toMatchObject({ code: 2, err: expect.stringContaining('--service <url> is required') });
    const unknown = await strangler(['verify', 'widget', '--mapping', CASE_STUDY_MAPPING_FILE, '--service', 'postgres://x@127.0.0.1:1/x']);
    expect(unknown).toMatchObject({ code: 2, err: expect.stringContaining("no aggregate 'widget'") });
  });

  it('sync: asks for the side, the aggregates and the database of that side before connecting anywhere', async () => {
    expect(await strangler(['sync', 'all', '--mapping', CASE_STUDY_MAPPING_FILE])).toMatchObject({ code: 2, err: expect.stringContaining('--into <legacy|service> is required') });
    expect(await strangler(['sync', 'all', '--into', 'catalog'])).toMatchObject({ code: 2, err: expect.stringContaining("--into must be legacy or service, got 'catalog'") });
    expect(await strangler(['sync', '--into', 'service'])).toMatchObject({ code: 2, err: expect.stringContaining('name the aggregates to sync') });
    const noService = await strangler(['sync', 'all', '--into', 'service', '--mapping', CASE_STUDY_MAPPING_FILE], { STRANGLER_SERVICE_URL: '' });
    expect(noService).toMatchObject({ code: 2, err: expect.stringContaining('--service <url> is required with --into service') });
    const unknown = await strangler(['sync', 'widget', '--into', 'legacy', '--mapping', CASE_STUDY_MAPPING_FILE]);
    expect(unknown).toMatchObject({ code: 2, err: expect.stringContaining("no aggregate 'widget'") });
    const unreachable = await strangler(['sync', 'product', '--into', 'service', '--mapping', CASE_STUDY_MAPPING_FILE, '--service', 'postgres://postgres@127.0.0.1:1/catalog']);
    expect(unreachable).toMatchObject({ code: 1, err: expect.stringContaining('cannot reach the service database postgres://postgres@127.0.0.1:1/catalog') });
    // A MySQL/MariaDB legacy syncs captured aggregates only; the case study's are versioned (an outbox).
    const mysqlLegacy = await strangler(['sync', 'product', '--into', 'legacy', '--mapping', CASE_STUDY_MAPPING_FILE, '--legacy', 'mysql://root@127.0.0.1:1/shop', '--service', 'postgres://postgres@127.0.0.1:1/catalog']);
    expect(mysqlLegacy).toMatchObject({ code: 2, err: expect.stringContaining('--legacy is a MySQL/MariaDB URL: only aggregates with a captured legacy side (captured: true) sync with it; product is not captured') });
    const mysqlService = await strangler(['sync', 'product', '--into', 'service', '--mapping', CASE_STUDY_MAPPING_FILE, '--service', 'mysql://root@127.0.0.1:1/catalog']);
    expect(mysqlService).toMatchObject({ code: 2, err: expect.stringContaining('--service takes a postgres:// URL') });
  });

  it('conflicts: names the missing action, id, side and database before connecting anywhere', async () => {
    expect(await strangler(['conflicts', '--help'])).toMatchObject({ code: 0, out: expect.stringContaining('strangler conflicts apply <id> --keep <legacy|service>') });
    expect(await strangler(['conflicts'])).toMatchObject({ code: 2, err: expect.stringContaining('name an action: list or apply') });
    expect(await strangler(['conflicts', 'list'], { STRANGLER_SERVICE_URL: '' })).toMatchObject({ code: 2, err: expect.stringContaining('--service <url> is required') });
    const service = ['--service', 'postgres://postgres@127.0.0.1:1/catalog'];
    expect(await strangler(['conflicts', 'apply', ...service])).toMatchObject({ code: 2, err: expect.stringContaining('apply needs the conflict id') });
    expect(await strangler(['conflicts', 'apply', 'x1', ...service])).toMatchObject({ code: 2, err: expect.stringContaining("the conflict id must be a number, got 'x1'") });
    expect(await strangler(['conflicts', 'apply', '7', ...service])).toMatchObject({ code: 2, err: expect.stringContaining('--keep <legacy|service> is required') });
    expect(await strangler(['conflicts', 'apply', '7', '--keep', 'both', ...service])).toMatchObject({ code: 2, err: expect.stringContaining("--keep must be legacy or service, got 'both'") });
    expect(await strangler(['conflicts', 'apply', '7', '--keep', 'legacy', ...service], { STRANGLER_MAPPING: '' })).toMatchObject({ code: 2, err: expect.stringContaining('--mapping <file> is required with apply') });
    expect(await strangler(['conflicts', 'apply', '7', '--keep', 'legacy', '--mapping', CASE_STUDY_MAPPING_FILE, ...service])).toMatchObject({ code: 2, err: expect.stringContaining('declares no aggregate with a captured legacy side') });
    expect(await strangler(['conflicts', 'list', ...service])).toMatchObject({ code: 1, err: expect.stringContaining('cannot reach the service database') });
  });

  it('reports every problem of a bad mapping file at once, with its path', async () => {
    const file = path.join(os.tmpdir(), `cli-mapping-${process.pid}.yaml`);
    fs.writeFileSync(file, 'aggregates:\n  product:\n    owner: service\n    colour: red\n    legacy: { table: products, key: id, version: version, fields: { id: id } }\n    service: { table: items, key: sku, version: version, fields: { id: id, version: version } }\n');
    try {
      const result = await strangler(['verify', 'product', '--mapping', file, '--service', 'postgres://x@127.0.0.1:1/x']);
      expect(result.code).toBe(1);
      expect(result.err).toContain('[SFG_SYNC_MAPPING_INVALID]');
      expect(result.err).toContain('aggregates.product.colour: unknown key');
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('prints only the configuration errors for a bad relay config', async () => {
    const file = path.join(os.tmpdir(), `cli-relay-${process.pid}.yaml`);
    fs.writeFileSync(file, 'mode: stream\n');
    try {
      const result = await strangler(['relay', '--config', file]);
      expect(result.code).toBe(2);
      expect(result.err).toContain('mode:');
      expect(result.err).not.toContain('Usage:');
      expect(result.err).toContain("Run 'strangler relay --help' for usage.");
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('proxy --check validates a config without starting anything: 0 and a summary, or 1 and every problem with its path', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-proxy-check-'));
    const good = path.join(dir, 'good.yaml');
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(good, 'admin: { token: "${ADMIN_TOKEN}" }\nflags: { provider: file }\nclusters:\n  legacy: { url: "http://127.0.0.1:1" }\n  orders: { url: "http://127.0.0.1:2" }\nroutes:\n  - { id: orders, order: 1, match: { path: "/api/orders/{**rest}" }, cluster: orders }\n');
    fs.writeFileSync(bad, 'admin: { token: short }\nflags: { provider: file }\nclusters:\n  legacy: { url: "http://127.0.0.1:1" }\n  orders: { url: "not a url", endpoints: ["http://127.0.0.1:2"] }\nroutes:\n  - { id: orders, order: 1, match: { path: /api/orders }, cluster: nope }\n');
    try {
      const valid = await strangler(['proxy', '--check', '--config', good], { ADMIN_TOKEN: 'a-long-enough-admin-token' });
      expect(valid).toMatchObject({ code: 0, err: '' });
      expect(valid.out).toMatch(/good\.yaml is valid \(1 route, 2 clusters, digest [0-9a-f]+\)/);
      const invalid = await strangler(['proxy', '--check', '--config', bad]);
      expect(invalid.code).toBe(1);
      expect(invalid.err).toContain('bad.yaml is not valid');
      for (const problem of ['admin.token', 'clusters.orders.url', 'routes.0.cluster']) expect(invalid.err).toContain(`${problem}:`);
      expect((await strangler(['proxy', '--check', '--config', path.join(dir, 'missing.yaml')])).code).toBe(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists the commands for an unknown one', async () => {
    expect(await strangler(['nope'])).toMatchObject({ code: 2, err: expect.stringMatching(/unknown command 'nope' \(commands: .*verify.*\); run 'strangler --help'/) });
  });
});
