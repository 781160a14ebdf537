import { InvalidRolloutPlanError, parseRolloutFile, parseRolloutPlan } from '../../rollout';

const issuesOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRolloutPlanError);
    expect((error as InvalidRolloutPlanError).code).toBe('SFG_ROLLOUT_INVALID_PLAN');
    return (error as InvalidRolloutPlanError).issues;
  }
  throw new Error('expected the plan to be refused');
};

describe('rollout plans', () => {
  it('fills in the defaults and reads durations', () => {
    const plan = parseRolloutPlan({ route: 'orders', flag: 'strangler.orders', shadowFlag: 'strangler.orders.shadow', steps: ['shadow', 1, 5, 25, 50, 100], stepDuration: '2m', analysisInterval: '15s' });
    expect(plan).toMatchObject({
      stepDuration: 120_000,
      analysisInterval: 15_000,
      failureLimit: 2,
      minRequests: 50,
      selector: '',
      checks: {
        errorRatio: { max: 0.01, maxAboveLegacy: 0.005 },
        p99Latency: { maxVersusLegacy: 1.5, tolerance: 50 },
        shadowMismatchRatio: { max: 0 },
        syncLag: { max: 5_000, relays: [] },
        driftRows: { max: 0, aggregateTypes: [] },
      },
    });
    expect(parseRolloutPlan({ route: 'r', flag: 'f', steps: [100], checks: { p99Latency: { max: '250ms' } } }).checks.p99Latency.max).toBe(250);
  });

  it('names every problem at once, unknown keys included', () => {
    const issues = issuesOf(() =>
      parseRolloutPlan({ route: 'orders', flag: '', steps: [5, 'shadow', 0, 5, 70], stepDuration: '10 minutes', failureLimit: 0, checks: { errorRatio: { max: 2 }, colour: 'red' }, speed: 'fast' }),
    );
    const paths = issues.map((issue) => `${issue.path}: ${issue.message}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^flag: /),
        expect.stringMatching(/^steps\.2: .*above 0/),
        expect.stringMatching(/^stepDuration: must be milliseconds/),
        expect.stringMatching(/^failureLimit: /),
        expect.stringMatching(/^checks\.errorRatio\.max: /),
        'checks.colour: unknown key',
        'speed: unknown key',
      ]),
    );
  });

  it('refuses steps that do not rise to 100, a late shadow step, and a shadow step without a shadow flag', () => {
    const messages = (steps: unknown[], extra: object = {}) => issuesOf(() => parseRolloutPlan({ route: 'r', flag: 'f', steps, ...extra })).map((issue) => `${issue.path}: ${issue.message}`);
    expect(messages([5, 5, 100])).toEqual(['steps: percentages must rise: 5 after 5']);
    expect(messages([5, 50])).toEqual(['steps: the last step must be 100']);
    expect(messages([5, 'shadow', 100], { shadowFlag: 's' })).toEqual(["steps: 'shadow' can only be the first step"]);
    expect(messages(['shadow', 100])).toEqual(["shadowFlag: is required when the steps include 'shadow'"]);
    expect(messages([100], { stepDuration: '10s', analysisInterval: '1m' })).toEqual(['analysisInterval: must not exceed stepDuration']);
  });

  it('validates a rollout file: services, the state database, and one rollout per route', () => {
    const plan = { route: 'orders', flag: 'f', steps: [100] };
    const file = parseRolloutFile({
      prometheus: { url: 'http://127.0.0.1:9090' },
      unleash: { url: 'http://127.0.0.1:4242/api', adminToken: 't' },
      database: { url: 'postgres://postgres@127.0.0.1/app' },
      rollouts: [plan],
    });
    expect(file.unleash).toMatchObject({ project: 'default', environment: 'development' });
    expect(file.database.schema).toBe('public');
    const issues = issuesOf(() => parseRolloutFile({ prometheus: { url: 'nope' }, unleash: { url: 'http://u', adminToken: '' }, database: { url: 'mysql://x' }, rollouts: [plan, plan] }, 'rollout.yaml'));
    expect(issues.map((issue) => issue.path).sort()).toEqual(['database.url', 'prometheus.url', 'rollouts.1.route', 'unleash.adminToken']);
  });
});
