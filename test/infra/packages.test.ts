import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianPackage, infraPaths, resolveEnvironment } from '../../infra';
import { prometheusUp } from '../../infra/prometheus';
import { freePort } from '../helpers/ports';

/** Runs `work` with PATH pointing at an empty folder: no prometheus, no apt-get, no sh. */
async function withEmptyPath<T>(work: () => Promise<T> | T): Promise<T> {
  const saved = process.env.PATH;
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-empty-path-'));
  process.env.PATH = empty;
  try {
    return await work();
  } finally {
    process.env.PATH = saved;
    fs.rmSync(empty, { recursive: true, force: true });
  }
}

describe('missing tools', () => {
  it('says in one line why a package cannot be installed, and installs nothing', async () => {
    const lines: string[] = [];
    const outcome = await withEmptyPath(() => ensureDebianPackage({ command: 'prometheus', pkg: 'prometheus', purpose: 'metrics' }, (line) => lines.push(line)));
    expect(outcome).toEqual({ available: false, reason: 'prometheus not found and apt-get is not available: install prometheus yourself' });
    expect(lines).toEqual([]);
  });

  it('skips Prometheus with one clear line when it can be neither found nor installed, so the rest still starts', async () => {
    const lines: string[] = [];
    const env = { ...resolveEnvironment({}), prometheusUrl: `http://127.0.0.1:${await freePort()}` };
    const status = await withEmptyPath(() => prometheusUp(env, infraPaths(), (line) => lines.push(line)));
    expect(status).toMatchObject({ name: 'prometheus', healthy: false, startedNow: false, detail: 'skipped: not installed' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^prometheus: skipped \(prometheus not found .*set PROMETHEUS_URL\); everything else runs, but nothing is scraped$/);
  });
});
