import { InvalidRolloutPlanError, parseConsoleOptions } from '../../rollout';
import { consolePage } from '../../rollout/console/page';

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
  it('loads nothing from elsewhere: no script, style or image from another origin', () => {
    const page = consolePage({ refreshMs: 2_000 });
    expect(page).toContain('const REFRESH_MS = 2000;');
    expect(page.match(/(src|href)=/g)).toBeNull();
    expect(new Set(page.match(/https?:\/\/[^'"\s]+/g))).toEqual(new Set(['http://www.w3.org/2000/svg']));
  });
});
