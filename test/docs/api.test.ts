import fs from 'node:fs';
import * as cli from '../../cli';
import * as outbox from '../../outbox';
import * as rollout from '../../rollout';
import * as proxy from '../../strangler-proxy';
import * as express from '../../strangler-proxy/express';
import * as sync from '../../sync';
import { API_FILE, collectExports, createApiProgram, renderApi, SUBPATHS } from '../../docs/generate-api';

const RUNTIME: Record<string, object> = { 'strangler-fig/proxy': proxy, 'strangler-fig/express': express, 'strangler-fig/outbox': outbox, 'strangler-fig/sync': sync, 'strangler-fig/rollout': rollout, 'strangler-fig/cli': cli };

describe('docs/api.md', () => {
  const program = createApiProgram();

  it('is what the sources generate (run npm run docs:api after changing an export or its doc comment)', () => {
    expect(fs.readFileSync(API_FILE, 'utf8')).toBe(renderApi(program));
  });

  it.each(SUBPATHS.map(({ subpath, entry }) => [subpath, entry]))('%s: lists every export, types included, in its section', (subpath, entry) => {
    const text = fs.readFileSync(API_FILE, 'utf8');
    const start = text.indexOf(`## ${subpath}\n`);
    expect(start).toBeGreaterThan(-1);
    const end = text.indexOf('\n## ', start + 1);
    const section = text.slice(start, end === -1 ? undefined : end);
    const documented = [...section.matchAll(/^#### `([^`]+)`$/gm)].map((match) => match[1]);
    const declared = collectExports(program, entry).map((item) => item.name);
    expect(documented.sort()).toEqual([...declared].sort());
    // Every runtime export is among them (the rest are types).
    expect(declared).toEqual(expect.arrayContaining(Object.keys(RUNTIME[subpath]!)));
  });
});
