import { parseCommandArgs, UsageError, type Command } from '../command';
import { ADMIN_HELP, ADMIN_OPTIONS, replicasOf } from './routes';

const help = `Usage: strangler explain <method> <path> [--user <id>] [--session <id>] [options]

Asks the running proxy which route, which side and why a request would go (GET /explain on the admin API), with the
same path normalisation, route table, flags and circuit state as real traffic. Nothing is sent upstream. Of several
replicas, the first one given answers.

Arguments:
  <method>           HTTP method, e.g. GET
  <path>             request path with optional query, e.g. /api/orders/42

Options:
  --user <id>        userId for the flag context (as from the user header or JWT sub)
  --session <id>     session cookie value for the flag context
${ADMIN_HELP}
  -h, --help         this text

Example:
  npx strangler explain GET /api/orders/42 --user alice`;

interface Explanation {
  method: string;
  path: string;
  rejected?: boolean;
  status?: number;
  reason: string;
  normalizedPath?: string;
  route?: string;
  flag?: string | null;
  target?: string;
  cluster?: string;
  why?: string;
  fallbackOnFailure?: boolean;
  circuit?: string;
  notes?: string[];
}

export const explainCommand: Command = {
  name: 'explain',
  summary: 'explain which route and side a request would take, and why',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { ...ADMIN_OPTIONS, user: { type: 'string' }, session: { type: 'string' } });
    if (positionals.length !== 2) throw new UsageError('expected <method> <path>');
    const [method, path] = positionals as [string, string];
    if (!path.startsWith('/')) throw new UsageError(`<path> must start with /, got '${path}'`);
    const query = new URLSearchParams({ method: method.toUpperCase(), path });
    if (values.user) query.set('userId', values.user);
    if (values.session) query.set('sessionId', values.session);
    const answer = await (await replicasOf(values)).clients[0]!.get<Explanation>(`/explain?${query}`);
    if (values.json) {
      console.log(JSON.stringify(answer, null, 2));
      return 0;
    }
    if (answer.rejected) {
      console.log(`${answer.method} ${answer.path}\n  rejected with ${answer.status}: ${answer.reason}`);
      return 0;
    }
    console.log(
      [
        `${answer.method} ${answer.path}`,
        `  normalised path  ${answer.normalizedPath}`,
        `  route            ${answer.route}${answer.flag ? ` (flag ${answer.flag})` : ''}`,
        `  goes to          ${answer.target} (cluster ${answer.cluster})`,
        `  because          ${answer.why}`,
        `  circuit          ${answer.circuit}`,
        `  on failure       ${answer.fallbackOnFailure ? 'legacy answers instead (safe method)' : 'no fallback'}`,
        ...(answer.notes ?? []).map((note) => `  note             ${note}`),
      ].join('\n'),
    );
    return 0;
  },
};
