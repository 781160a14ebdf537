import { z } from 'zod';
import { InvalidRolloutPlanError, type PlanIssue } from '../errors';

const schema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 picks a free port. */
  port: z.number().int().min(0).max(65_535).default(9460),
  /** Every /api request needs `Authorization: Bearer <token>`: the proxy's admin token, so one secret guards both. */
  token: z.string().min(8, 'must be at least 8 characters'),
  /** How often the page asks for fresh figures. */
  refreshMs: z.number().int().min(250).default(2_000),
  /** How far back the charts reach, and the width of one point. */
  chartMinutes: z.number().int().min(1).max(24 * 60).default(15),
  chartStepSeconds: z.number().int().min(1).default(5),
  /** Extra label matchers on every proxy query, e.g. `job="strangler-proxy"`. */
  selector: z.string().regex(/^([a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"[^"]*"\s*,?\s*)*$/, 'must be label matchers such as job="proxy"').default(''),
});

export type ConsoleOptions = z.output<typeof schema>;
export type ConsoleOptionsInput = z.input<typeof schema>;

/** Validates the console's options, every problem at once; unknown keys are refused. */
export function parseConsoleOptions(input: unknown): ConsoleOptions {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues: PlanIssue[] = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' ? issue.keys.map((key) => ({ path: key, message: 'unknown key' })) : [{ path: issue.path.map(String).join('.') || '(root)', message: issue.message }],
  );
  throw new InvalidRolloutPlanError(issues, 'console options');
}
