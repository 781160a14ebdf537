import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { DASHBOARDS_DIR, DATASOURCE_UID, renderArtifacts } from '../../dashboards';

const artifacts = renderArtifacts();
const dashboards = artifacts
  .filter((artifact) => artifact.file.startsWith(`grafana${path.sep}`))
  .map((artifact) => JSON.parse(artifact.content) as { uid: string; panels: Array<{ id: number; type: string; datasource?: unknown }> });

/** Every `datasource` object anywhere in a dashboard (panels, targets, variables). */
function datasourceRefs(node: unknown, found: unknown[] = []): unknown[] {
  if (Array.isArray(node)) node.forEach((child) => datasourceRefs(child, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'datasource') found.push(value);
      else datasourceRefs(value, found);
    }
  }
  return found;
}

describe('generated dashboards and rules', () => {
  test.each(artifacts.map((artifact) => [artifact.file, artifact.content]))(
    'committed dashboards/%s is what `npm run dashboards` generates',
    (file, content) => {
      const committed = path.join(DASHBOARDS_DIR, file);
      expect(fs.existsSync(committed)).toBe(true);
      expect(fs.readFileSync(committed, 'utf8')).toBe(content);
    },
  );

  test('dashboards/grafana holds exactly the generated dashboards (no stale files)', () => {
    const expected = artifacts.filter((artifact) => artifact.file.startsWith(`grafana${path.sep}`)).map((artifact) => path.basename(artifact.file));
    expect(fs.readdirSync(path.join(DASHBOARDS_DIR, 'grafana')).sort()).toEqual(expected.sort());
  });

  test('three dashboards with distinct uids, every panel numbered once', () => {
    expect(dashboards.map((dashboard) => dashboard.uid).sort()).toEqual([
      'strangler-migration-overview',
      'strangler-outbox-sync',
      'strangler-proxy-internals',
    ]);
    for (const dashboard of dashboards) {
      const ids = dashboard.panels.map((panel) => panel.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    }
  });

  test('every datasource reference is the provisioned Prometheus uid', () => {
    const provisioned = YAML.parse(fs.readFileSync(path.join(DASHBOARDS_DIR, 'provisioning', 'datasources', 'strangler-fig.yml'), 'utf8')) as {
      datasources: Array<{ uid: string; type: string }>;
    };
    expect(provisioned.datasources).toEqual([expect.objectContaining({ uid: DATASOURCE_UID, type: 'prometheus' })]);
    for (const dashboard of dashboards) {
      const refs = datasourceRefs(dashboard);
      expect(refs.length).toBeGreaterThan(dashboard.panels.length);
      for (const ref of refs) expect(ref).toEqual({ type: 'prometheus', uid: DATASOURCE_UID });
    }
  });

  test('the dashboard provider serves a file folder', () => {
    const provider = YAML.parse(fs.readFileSync(path.join(DASHBOARDS_DIR, 'provisioning', 'dashboards', 'strangler-fig.yml'), 'utf8')) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(provider.providers).toEqual([expect.objectContaining({ type: 'file', options: expect.objectContaining({ path: expect.any(String) }) })]);
  });
});
