import { dashboardExpressions, labelValuesAsPromql, restrictToLabel, ruleExpressions, substituteVariables } from './expressions';

describe('shipped PromQL expressions, as the integration test evaluates them', () => {
  test('restrictToLabel adds the matcher to raw and recorded strangler selectors only', () => {
    expect(
      restrictToLabel(
        'histogram_quantile(0.5, sum by (route, le) (route_target_le:strangler_proxy_request_duration_seconds_bucket:rate1m{route=~".*", target="legacy"}))',
        'testrun',
        'r1',
      ),
    ).toBe(
      'histogram_quantile(0.5, sum by (route, le) (route_target_le:strangler_proxy_request_duration_seconds_bucket:rate1m{testrun="r1", route=~".*", target="legacy"}))',
    );
    expect(restrictToLabel('strangler_proxy_flags_ready == 0 and on() up', 'testrun', 'r1')).toBe('strangler_proxy_flags_ready{testrun="r1"} == 0 and on() up');
    expect(restrictToLabel('rate(strangler_x_total{}[1m])', 'testrun', 'r1')).toBe('rate(strangler_x_total{testrun="r1"}[1m])');
  });

  test('substituteVariables replaces dashboard and Grafana variables and rejects unknown ones', () => {
    expect(substituteVariables('rate(m{route=~"$route"}[$__rate_interval])', ['route'])).toBe('rate(m{route=~".*"}[1m])');
    expect(() => substituteVariables('m{x=~"$unknown"}', ['route'])).toThrow(/unknown variable/);
  });

  test('labelValuesAsPromql turns a variable query into a series query', () => {
    expect(labelValuesAsPromql('label_values(strangler_proxy_requests_total, route)')).toBe('count by (route) (strangler_proxy_requests_total)');
  });

  test('every dashboard query and rule is found, and each mentions a strangler metric', () => {
    const all = [...dashboardExpressions(), ...ruleExpressions()];
    expect(dashboardExpressions().length).toBeGreaterThanOrEqual(30);
    expect(ruleExpressions().length).toBe(20);
    for (const { source, expr } of all) expect(`${source}: ${restrictToLabel(expr, 'testrun', 'r')}`).toContain('{testrun="r"');
  });
});
