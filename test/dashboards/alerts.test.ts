import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ALERTS, DASHBOARDS_DIR, RUNBOOK_BASE_URL, runbookAnchor, THRESHOLDS } from '../../dashboards';

const docs = fs.readFileSync(path.join(DASHBOARDS_DIR, '..', 'docs', 'dashboards.md'), 'utf8');
const ruleTests = fs
  .readdirSync(path.join(DASHBOARDS_DIR, 'prometheus', 'tests'))
  .map((file) => fs.readFileSync(path.join(DASHBOARDS_DIR, 'prometheus', 'tests', file), 'utf8'))
  .join('\n');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const headings = docs
  .split('\n')
  .filter((line) => /^#{1,6}\s/.test(line))
  .map((line) => line.replace(/^#+\s*/, ''));

/** The text of the section under `heading`, up to the next heading of any level. */
function section(heading: string): string {
  const lines = docs.split('\n');
  const start = lines.findIndex((line) => line.replace(/^#+\s*/, '') === heading && /^#/.test(line));
  const end = lines.findIndex((line, index) => index > start && /^#{1,6}\s/.test(line));
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n');
}

describe('alerts', () => {
  test('the issue\'s alert list is covered', () => {
    expect(ALERTS.map((alert) => alert.alert).sort()).toEqual(
      [
        'StranglerCircuitOpen',
        'StranglerDataDrift',
        'StranglerExtractedErrorRatioAboveLegacy',
        'StranglerExtractedLatencyRegression',
        'StranglerFlagsNotReady',
        'StranglerOutboxDeadLetters',
        'StranglerOutboxLagHigh',
        'StranglerOutboxTopicPartitionsChanged',
        'StranglerReplicationSlotLagHigh',
        'StranglerRolloutRolledBack',
        'StranglerShadowMismatches',
        'StranglerSyncDeadLetters',
      ].sort(),
    );
  });

  test.each(ALERTS.map((alert) => [alert.alert]))('%s has a runbook section in docs/dashboards.md that its runbook_url points at', (name) => {
    const heading = headings.find((candidate) => githubAnchor(candidate) === runbookAnchor(name));
    expect(heading).toBe(`Runbook: ${name}`);
    const body = section(heading as string);
    expect(body.trim().length).toBeGreaterThan(200);
    const rendered = YAML.parse(fs.readFileSync(path.join(DASHBOARDS_DIR, 'prometheus', 'rules', 'alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; annotations: Record<string, string> }> }>;
    };
    const rule = rendered.groups.flatMap((group) => group.rules).find((candidate) => candidate.alert === name);
    expect(rule?.annotations.runbook_url).toBe(`${RUNBOOK_BASE_URL}${githubAnchor(heading as string)}`);
    expect(rule?.annotations.summary).toBeTruthy();
    expect(rule?.annotations.description).toBeTruthy();
  });

  test.each(Object.entries(THRESHOLDS))('threshold %s is documented with its value %s in docs/dashboards.md', (key, value) => {
    expect(docs).toContain(`\`${key}\` = ${value}`);
  });

  test.each(ALERTS.map((alert) => [alert.alert]))('%s has a promtool unit test', (name) => {
    expect(ruleTests).toContain(`alertname: ${name}`);
  });
});
