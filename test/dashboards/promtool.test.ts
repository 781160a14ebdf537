import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DASHBOARDS_DIR } from '../../dashboards';

const PROMETHEUS_DIR = path.join(DASHBOARDS_DIR, 'prometheus');

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: PROMETHEUS_DIR, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const ruleFiles = fs.readdirSync(path.join(PROMETHEUS_DIR, 'rules')).map((file) => path.join('rules', file));
const ruleTests = fs.readdirSync(path.join(PROMETHEUS_DIR, 'tests')).map((file) => path.join('tests', file));

describe('promtool', () => {
  test('check config: prometheus.yml is valid and loads every rule file', () => {
    const { status, output } = promtool('check', 'config', 'prometheus.yml');
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
    expect(output).toContain(`SUCCESS: ${ruleFiles.length} rule files found`);
  });

  test('check rules: every rule file is valid', () => {
    expect(ruleFiles.length).toBeGreaterThanOrEqual(2);
    const { status, output } = promtool('check', 'rules', ...ruleFiles);
    expect(output).not.toContain('FAILED');
    expect(status).toBe(0);
  });

  test('test rules: every alert fires on its unhealthy series and stays silent on the healthy one', () => {
    expect(ruleTests.length).toBeGreaterThan(0);
    const { status, output } = promtool('test', 'rules', ...ruleTests);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });
});
