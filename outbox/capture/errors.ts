import { OutboxError, type OutboxErrorCode } from '../errors';

/** One reason the capture cannot start, naming the table or setting and what to run. */
export interface PreflightProblem {
  /** SFG_CAPTURE_WAL_LEVEL, SFG_CAPTURE_TABLE_MISSING, SFG_CAPTURE_NOT_A_TABLE, SFG_CAPTURE_NO_PRIMARY_KEY, SFG_CAPTURE_REPLICA_IDENTITY, SFG_CAPTURE_PRIVILEGE, SFG_CAPTURE_PUBLICATION, SFG_CAPTURE_NO_FREE_SLOT. */
  code: OutboxErrorCode;
  message: string;
  /** `schema.table` when the problem is a table's. */
  table?: string;
}

/**
 * The database cannot be captured as configured. Lists every problem at once; `code` is the problem's own code
 * when there is one, else SFG_CAPTURE_PREFLIGHT. Not retriable: the relay stops.
 */
export class CapturePreflightError extends OutboxError {
  override readonly name = 'CapturePreflightError';
  constructor(readonly problems: PreflightProblem[]) {
    super(
      problems.length === 1 ? problems[0]!.code : 'SFG_CAPTURE_PREFLIGHT',
      `table capture cannot start (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((problem) => `  [${problem.code}] ${problem.message}`).join('\n')}`,
    );
  }
}
