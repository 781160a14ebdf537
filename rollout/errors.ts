import { StranglerError, type ErrorCatalogue, type ErrorCatalogueOf } from '../errors';

const CODES = {
  SFG_ROLLOUT_INVALID_PLAN: {
    means: 'The rollout file (or its database schema name) does not validate; the message lists every problem with its path.',
    fix: 'Correct each listed key of the rollout file (see docs/rollout.md).',
  },
  SFG_ROLLOUT_NO_FILE: {
    means: 'The rollout file could not be read.',
    fix: 'Check the path given to --config and its permissions.',
  },
  SFG_ROLLOUT_NOT_FOUND: {
    means: 'The route has no rollout plan, or no rollout has been started for it.',
    fix: 'Check the route name against the plan; start the rollout first.',
  },
  SFG_ROLLOUT_ALREADY_RUNNING: {
    means: 'The route already has a rollout running or paused.',
    fix: 'Abort it first (`strangler rollout abort <route>`) or let it finish.',
  },
  SFG_ROLLOUT_BAD_TRANSITION: {
    means: 'The command does not apply in the rollout\'s current state (for example resume a rollout that is not paused).',
    fix: 'Check its state with `strangler rollout status` and pick a command that applies.',
  },
  SFG_ROLLOUT_PROMETHEUS_UNREACHABLE: {
    means: 'Prometheus could not be reached for the analysis.',
    fix: 'Check the Prometheus URL and that it runs; retriable: the controller holds the step meanwhile.',
  },
  SFG_ROLLOUT_PROMETHEUS_QUERY: {
    means: 'Prometheus refused an analysis query.',
    fix: 'Read Prometheus\'s answer in the message; check the plan\'s metric selectors and labels.',
  },
  SFG_ROLLOUT_CONSOLE_BAD_REQUEST: {
    means: 'The console API refused a request: too large a body, not a JSON object, an unknown command or a bad parameter (400).',
    fix: 'Send the request the message describes.',
  },
  SFG_ROLLOUT_CONSOLE_UNAUTHORISED: {
    means: 'The console API was called without the admin token (401).',
    fix: 'Send Authorization: Bearer <token> with the admin token.',
  },
  SFG_ROLLOUT_CONSOLE_NOT_FOUND: {
    means: 'No console page or API at that path (404).',
    fix: 'Check the URL.',
  },
  SFG_ROLLOUT_CONSOLE_METHOD: {
    means: 'The HTTP method is not allowed on that console path (405).',
    fix: 'Use GET for pages and reads, POST for commands.',
  },
  SFG_ROLLOUT_CONSOLE_FAILED: {
    means: 'A console request failed on an unexpected error (502).',
    fix: 'Read the console\'s log for the cause.',
  },
  SFG_ROLLOUT_CONSOLE_STOPPED: {
    means: 'The console was asked for its address before it was started.',
    fix: 'Call start() first.',
  },
} as const satisfies ErrorCatalogue;

/** One of the codes of ROLLOUT_ERROR_CODES (listed in docs/errors.md); a throw with another code fails the typecheck. */
export type RolloutErrorCode = keyof typeof CODES;

/** Every rollout error code: what it means and what to do (docs/errors.md is generated from it). */
export const ROLLOUT_ERROR_CODES: ErrorCatalogueOf<RolloutErrorCode> = CODES;

/** Every rollout error carries a stable `code`, whether retrying can help, and the underlying cause. */
export class RolloutError extends StranglerError<RolloutErrorCode> {
  declare readonly code: RolloutErrorCode;

  constructor(code: RolloutErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
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
