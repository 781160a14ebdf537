import { UnleashAdminClient } from '../../strangler-proxy';
import { parseCommandArgs, UsageError, type Command } from '../command';
import { ADMIN_HELP, ADMIN_OPTIONS, replicasOf } from './routes';

const help = `Usage: strangler flip <route> <percent> [options]

Moves <percent> % of users of a route to its extracted service: sets the flexibleRollout of the route's Unleash flag
through the Unleash Admin API (existing constraints, stickiness and groupId are kept, so users keep their bucket),
switches the flag on, reads it back to confirm, then waits until the running proxy reports the new rollout.
0 sends everyone back to legacy.

With several proxy replicas (--admin more than once, or --admin-dns), every one of them must be reachable before
the flag is touched, and the command waits until each reports the new rollout, printing when each picked it up.

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

    const proxy = values.flag && waitMs === 0 ? undefined : await replicasOf(values);
    let flag = values.flag;
    if (proxy) {
      const { view, replicas } = await proxy.routes();
      const unreachable = replicas.filter((replica) => replica.error !== undefined);
      if (unreachable.length > 0) {
        console.error(unreachable.map((replica) => `replica ${replica.url} cannot be reached: ${replica.error}`).join('\n'));
        console.error(`nothing changed: every replica must be reachable to confirm the flip (${unreachable.length} of ${replicas.length} are not)`);
        return 1;
      }
      if (!flag) {
        const route = view.routes.find((candidate) => candidate.id === routeId);
        if (!route) throw new UsageError(`no route '${routeId}' (known: ${view.routes.map((candidate) => candidate.id).join(', ') || 'none'})`);
        if (!route.flag) throw new UsageError(`route '${routeId}' has no flag: it always goes to cluster '${route.cluster}'`);
        flag = route.flag;
      }
    }

    const unleash = UnleashAdminClient.fromEnvironment({ project: values.project, environment: values.environment });
    await unleash.setRollout(flag!, percent);
    const confirmed = await unleash.readRollout(flag!);
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
    const pickedUp = new Map<string, number>();
    for (;;) {
      const { replicas } = await proxy.routes();
      for (const replica of replicas) {
        if (pickedUp.has(replica.url) || replica.rollouts?.[routeId] !== percent) continue;
        pickedUp.set(replica.url, Date.now() - started);
        if (replicas.length > 1) output?.(`  ${replica.url} picked it up in ${pickedUp.get(replica.url)} ms`);
      }
      if (pickedUp.size === replicas.length) {
        const tookMs = Math.max(...pickedUp.values());
        const where = replicas.length > 1 ? `all ${replicas.length} proxy replicas route` : 'proxy routes';
        output?.(`${where} ${percent}% of '${routeId}' to the extracted side (picked up in ${tookMs} ms)`);
        if (values.json) {
          const each = replicas.map((replica) => ({ url: replica.url, tookMs: pickedUp.get(replica.url) }));
          console.log(JSON.stringify({ route: routeId, flag, percent, unleash: 'confirmed', proxy: 'confirmed', tookMs, ...(replicas.length > 1 ? { replicas: each } : {}) }));
        }
        return 0;
      }
      if (Date.now() - started > waitMs) {
        for (const replica of replicas.filter((candidate) => !pickedUp.has(candidate.url))) {
          const seen = replica.error ?? `${replica.rollouts?.[routeId] ?? 'unknown'}%`;
          console.error(`${replicas.length > 1 ? `replica ${replica.url}` : 'the proxy'} still reports ${seen} for '${routeId}' after ${waitMs} ms (is it connected to Unleash?)`);
        }
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  },
};
