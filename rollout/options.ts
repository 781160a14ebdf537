import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { interpolate } from '../strangler-proxy';
import { InvalidRolloutPlanError, RolloutError, type PlanIssue } from './errors';

const UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** A duration in milliseconds, or a string such as `90s`, `5m`, `250ms`. */
const duration = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d+(ms|s|m|h)$/, 'must be milliseconds or a number with ms, s, m or h (e.g. 30s, 5m)')
    .transform((text) => {
      const [, amount, unit] = /^(\d+)(ms|s|m|h)$/.exec(text)!;
      return Number(amount) * UNITS_MS[unit as keyof typeof UNITS_MS];
    }),
], { error: 'must be milliseconds or a number with ms, s, m or h (e.g. 30s, 5m)' });

const ratio = z.number().min(0).max(1);
const labelValue = z.string().regex(/^[^"\\\n]*$/, 'may not hold quotes, backslashes or newlines');

/** A step: a rollout percentage of the route's flag, or `shadow` (shadow traffic on, nobody served by the new side). */
const step = z.union([z.literal('shadow'), z.number().gt(0, 'must be above 0 (0 % is where a rollback goes)').max(100)]);

const checksSchema = z.strictObject({
  /** Share of the new side's requests that failed (5xx, or fell back to legacy): at most `max`, and at most `maxAboveLegacy` above legacy's. */
  errorRatio: z.strictObject({ max: ratio.default(0.01), maxAboveLegacy: ratio.default(0.005) }).prefault({}),
  /**
   * p99 of the new side: at most `maxVersusLegacy` times legacy's or `tolerance` above it, whichever is more (a few
   * milliseconds either way are noise, not a regression), and at most `max` when set.
   */
  p99Latency: z.strictObject({ maxVersusLegacy: z.number().positive().default(1.5), tolerance: duration.default(50), max: duration.optional() }).prefault({}),
  /** Real shadow mismatches (not lag) per comparison on the route. */
  shadowMismatchRatio: z.strictObject({ max: ratio.default(0) }).prefault({}),
  /** Age of the oldest event not yet published, over the named relays (every relay when empty). */
  syncLag: z.strictObject({ max: duration.default(5_000), relays: z.array(labelValue.min(1)).default([]) }).prefault({}),
  /** Rows missing, stale or different at the last `strangler verify`, over the named aggregate types (all when empty). */
  driftRows: z.strictObject({ max: z.number().int().min(0).default(0), aggregateTypes: z.array(labelValue.min(1)).default([]) }).prefault({}),
});

const planSchema = z
  .strictObject({
    /** The proxy route's id (its `route` metric label). */
    route: labelValue.min(1),
    /** The route's rollout flag in Unleash. */
    flag: z.string().min(1),
    /** The route's shadow flag; needed when the steps include `shadow`. */
    shadowFlag: z.string().min(1).optional(),
    steps: z.array(step).min(1, 'needs at least one step'),
    /** How long each step runs before it may be promoted (every analysis in it must pass). */
    stepDuration: duration.default(300_000),
    /** How often the checks are evaluated, over a window of this length. */
    analysisInterval: duration.default(30_000),
    /** Failed analyses (in a row or not) within one step before the rollout is rolled back to 0 %. */
    failureLimit: z.number().int().min(1).default(2),
    /** Requests the new side must have seen in an analysis window (shadow step: comparisons); fewer is inconclusive. */
    minRequests: z.number().int().min(1).default(50),
    checks: checksSchema.prefault({}),
    /** Extra label matchers added to every proxy query, e.g. `job="strangler-proxy"`. */
    selector: z.string().regex(/^([a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"[^"]*"\s*,?\s*)*$/, 'must be label matchers such as job="proxy"').default(''),
  })
  .superRefine((plan, context) => {
    const percents = plan.steps.filter((entry): entry is number => entry !== 'shadow');
    if (plan.steps.indexOf('shadow') > 0) context.addIssue({ code: 'custom', path: ['steps'], message: "'shadow' can only be the first step" });
    if (plan.steps.filter((entry) => entry === 'shadow').length > 1) context.addIssue({ code: 'custom', path: ['steps'], message: "'shadow' appears more than once" });
    percents.forEach((percent, index) => {
      if (index > 0 && percent <= percents[index - 1]!) context.addIssue({ code: 'custom', path: ['steps'], message: `percentages must rise: ${percent} after ${percents[index - 1]}` });
    });
    if (percents.at(-1) !== 100) context.addIssue({ code: 'custom', path: ['steps'], message: 'the last step must be 100' });
    if (plan.steps.includes('shadow') && !plan.shadowFlag) context.addIssue({ code: 'custom', path: ['shadowFlag'], message: "is required when the steps include 'shadow'" });
    if (plan.analysisInterval > plan.stepDuration) context.addIssue({ code: 'custom', path: ['analysisInterval'], message: 'must not exceed stepDuration' });
  });

const fileSchema = z
  .strictObject({
    prometheus: z.strictObject({ url: z.url('must be a URL (http://host:9090)') }),
    unleash: z.strictObject({
      url: z.url('must be a URL (http://host:4242/api)'),
      /** Admin API token; `${UNLEASH_ADMIN_TOKEN}` in a file. */
      adminToken: z.string().min(1, 'is required'),
      project: z.string().min(1).default('default'),
      environment: z.string().min(1).default('development'),
    }),
    /** Where the controller keeps each rollout's state and event log. */
    database: z.strictObject({ url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'), schema: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('public') }),
    rollouts: z.array(planSchema).min(1, 'needs at least one rollout'),
  })
  .superRefine((file, context) => {
    const seen = new Set<string>();
    file.rollouts.forEach((plan, index) => {
      if (seen.has(plan.route)) context.addIssue({ code: 'custom', path: ['rollouts', index, 'route'], message: `route '${plan.route}' has two rollouts` });
      seen.add(plan.route);
    });
  });

export type RolloutStep = z.infer<typeof step>;
export type RolloutPlan = z.output<typeof planSchema>;
export type RolloutPlanInput = z.input<typeof planSchema>;
export type RolloutChecks = RolloutPlan['checks'];
export type RolloutFile = z.output<typeof fileSchema>;
export type RolloutFileInput = z.input<typeof fileSchema>;

function issuesOf(error: z.ZodError): PlanIssue[] {
  const pathOf = (segments: PropertyKey[]) => segments.map(String).join('.') || '(root)';
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: pathOf([...issue.path, key]), message: 'unknown key' }))
      : [{ path: pathOf(issue.path), message: issue.message }],
  );
}

/** Validates one route's plan, reporting every problem at once with its path, and fills in defaults. */
export function parseRolloutPlan(input: unknown): RolloutPlan {
  const result = planSchema.safeParse(input);
  if (!result.success) throw new InvalidRolloutPlanError(issuesOf(result.error));
  return result.data;
}

/** Validates a rollout file (Prometheus, Unleash, the state database and every route's plan). */
export function parseRolloutFile(input: unknown, source?: string): RolloutFile {
  const result = fileSchema.safeParse(input);
  if (!result.success) throw new InvalidRolloutPlanError(issuesOf(result.error), source);
  return result.data;
}

/** Reads a rollout file (YAML or JSON), replacing `${VAR}` and `${VAR:-default}` from `env`, and validates it. */
export function loadRolloutFile(file: string, env: NodeJS.ProcessEnv = process.env): RolloutFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new RolloutError('SFG_ROLLOUT_NO_FILE', `cannot read the rollout file ${file}: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (error) {
    throw new InvalidRolloutPlanError([{ path: '(root)', message: `not YAML or JSON: ${(error as Error).message}` }], file);
  }
  const issues: PlanIssue[] = [];
  const interpolated = interpolate(parsed, env, '', issues);
  if (issues.length) throw new InvalidRolloutPlanError(issues, file);
  return parseRolloutFile(interpolated, file);
}
