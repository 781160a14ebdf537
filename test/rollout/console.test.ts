import { InvalidRolloutPlanError, parseConsoleOptions } from '../../rollout';
import fs from 'node:fs';
import path from 'node:path';
import { CONSOLE_SCRIPT_PATH, consolePage, consoleScript } from '../../rollout/console/page';

describe('the migration console options', () => {
  it('fill in defaults and need only the token', () => {
    expect(parseConsoleOptions({ token: 'an-admin-token' })).toEqual({ host: '127.0.0.1', port: 9460, token: 'an-admin-token', refreshMs: 2_000, chartMinutes: 15, chartStepSeconds: 5, selector: '' });
  });

  it('name every problem at once, unknown keys included', () => {
    try {
      parseConsoleOptions({ token: 'short', port: 70_000, refreshMs: 10, selector: 'job=proxy', colour: 'green' });
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidRolloutPlanError);
      expect((error as InvalidRolloutPlanError).issues.map((issue) => issue.path).sort()).toEqual(['colour', 'port', 'refreshMs', 'selector', 'token']);
    }
  });
});

describe('the console page', () => {
  it('loads nothing from elsewhere: its one script from this server, no style or image from another origin', () => {
    const page = consolePage({ refreshMs: 2_000 });
    expect(page).toContain('<body data-refresh-ms="2000">');
    expect(page.match(/(src|href)="[^"]*"/g)).toEqual([`src="${CONSOLE_SCRIPT_PATH}"`]);
    expect(new Set(`${page}${consoleScript()}`.match(/https?:\/\/[^'"\s]+/g))).toEqual(new Set(['http://www.w3.org/2000/svg']));
  });

  it('serves its script as the checked-in file, which reads the refresh period from the page', () => {
    expect(consoleScript()).toBe(fs.readFileSync(path.join(__dirname, '../../rollout/console/browser/console.js'), 'utf8'));
    expect(consoleScript()).toMatch(/^\/\/ @ts-check/);
    expect(consoleScript()).toContain('document.body.dataset.refreshMs');
  });
});
