import { ProxyAdminClient, UnleashRolloutClient, type RoutesView } from '../../strangler-proxy';
import { parseCommandArgs, UsageError, type Command } from '../command';
import { ADMIN_HELP, ADMIN_OPTIONS } from './routes';

const help = `Usage: strangler flip <route> <percent> [options]

Moves <percent> % of users of a route to its extracted service: sets the flexibleRollout of the route's Unleash flag
through the Unleash Admin API (existing constraints, stickiness and groupId are kept, so users keep their bucket),
switches the flag on, reads it back to confirm, then waits until the running proxy reports the new rollout.
0 sends everyone back to legacy.

Arguments:
  <route>               route id (its flag is looked up on the proxy admin API unless --flag is given)
  <percent>             integer 0..100

Options:
  --flag <name>         the Unleash flag to set (skips the lookup)
  --project <id>        Unleash project (default default)
  --environment <name>  Unleash environment (default development)
  --wait-ms <ms>        how long to wait for the proxy to pick the change up (default 15000; 0 = do not wait)
${ADMIN_HELP}
  -h, --help            this text

Environment:
  UNLEASH_URL           Unleash API (default http://127.0.0.1:4242/api)
  UNLEASH_ADMIN_TOKEN   Unleash admin API token (required)

Examples:
  npx strangler flip orders 10
  npx strangler flip orders 0 --flag strangler.orders --wait-ms 0`;

export const flipCommand: Command = {
  name: 'flip',
  summary: "set a route's Unleash rollout percentage and confirm it",
  help,
  async run(argv) {
    const negative = argv.find((argument) => /^-\d/.test(argument));
    if (negative !== undefined) throw new UsageError(`<percent> must be an integer from 0 to 100, got '${negative}'`);
    const { values, positionals } = parseCommandArgs(argv, {
      ...ADMIN_OPTIONS,
      flag: { type: 'string' },
      project: { type: 'string', default: 'default' },
      environment: { type: 'string', default: 'development' },
      'wait-ms': { type: 'string', default: '15000' },
    });
    if (positionals.length !== 2) throw new UsageError('expected <route> <percent>');
    const [routeId, percentText] = positionals as [string, string];
    const percent = Number(percentText);
    if (!/^\d+$/.test(percentText) || percent > 100) throw new UsageError(`<percent> must be an integer from 0 to 100, got '${percentText}'`);
    const waitMs = Number(values['wait-ms']);
    if (!Number.isInteger(waitMs) || waitMs < 0) throw new UsageError('--wait-ms must be a non-negative integer');

    const proxy = values.flag && waitMs === 0 ? undefined : ProxyAdminClient.fromEnvironment({ url: values.admin, token: values.token });
    let flag = values.flag;
    if (!flag) {
      const view = await proxy!.get<RoutesView>('/routes');
      const route = view.routes.find((candidate) => candidate.id === routeId);
      if (!route) throw new UsageError(`no route '${routeId}' (known: ${view.routes.map((candidate) => candidate.id).join(', ') || 'none'})`);
      if (!route.flag) throw new UsageError(`route '${routeId}' has no flag: it always goes to cluster '${route.cluster}'`);
      flag = route.flag;
    }

    const unleash = UnleashRolloutClient.fromEnvironment({ project: values.project, environment: values.environment });
    await unleash.setRollout(flag, percent);
    const confirmed = await unleash.readRollout(flag);
    if (!confirmed.enabled || confirmed.percent !== percent) {
      console.error(`Unleash reads back ${confirmed.enabled ? `${confirmed.percent}%` : 'off'} for ${flag}, not ${percent}%`);
      return 1;
    }
    const output = values.json ? undefined : console.log;
    output?.(`${flag}: flexibleRollout ${percent}% confirmed by Unleash (${values.environment})`);
    if (!proxy || waitMs === 0) {
      if (values.json) console.log(JSON.stringify({ route: routeId, flag, percent, unleash: 'confirmed', proxy: 'not checked' }));
      return 0;
    }
    const started = Date.now();
    for (;;) {
      const view = await proxy.get<RoutesView>('/routes');
      const seen = view.routes.find((candidate) => candidate.id === routeId)?.rolloutPercent;
      if (seen === percent) {
        const tookMs = Date.now() - started;
        output?.(`proxy routes ${percent}% of '${routeId}' to the extracted side (picked up in ${tookMs} ms)`);
        if (values.json) console.log(JSON.stringify({ route: routeId, flag, percent, unleash: 'confirmed', proxy: 'confirmed', tookMs }));
        return 0;
      }
      if (Date.now() - started > waitMs) {
        console.error(`the proxy still reports ${seen ?? 'unknown'}% for '${routeId}' after ${waitMs} ms (is it connected to Unleash?)`);
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  },
};
