/** Every rollout error carries a stable `code`, whether retrying can help, and the underlying cause. */
export class RolloutError extends Error {
  override readonly name: string = 'RolloutError';
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

export interface PlanIssue {
  /** Dotted path of the offending key, e.g. `rollouts.0.steps.2`. */
  path: string;
  message: string;
}

/** A rollout file that does not validate; `issues` lists every problem with its path. */
export class InvalidRolloutPlanError extends RolloutError {
  override readonly name = 'InvalidRolloutPlanError';
  constructor(
    readonly issues: PlanIssue[],
    source?: string,
  ) {
    super('SFG_ROLLOUT_INVALID_PLAN', `invalid rollout plan${source ? ` (${source})` : ''}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`);
  }
}
