import { StranglerError, type ErrorCatalogue, type ErrorCatalogueOf } from '../errors';

const CODES = {
  SFG_SYNC_MAPPING_INVALID: {
    means: 'The mapping file does not validate; the message lists every problem with its path.',
    fix: 'Correct each listed key of mapping.yaml (see docs/sync.md) and run the command again.',
  },
  SFG_SYNC_MAPPING_UNREADABLE: {
    means: 'The mapping file could not be read or is not YAML.',
    fix: 'Check the path given to --mapping, its permissions and its YAML syntax.',
  },
  SFG_SYNC_SCHEMA_MISMATCH: {
    means: 'The mapping does not fit the live schema: a table or column it names is missing or of another type.',
    fix: 'Run the service\'s migrations, or correct the table and column names in the mapping.',
  },
  SFG_SYNC_UNKNOWN_AGGREGATE: {
    means: 'An aggregate was named (by an option, a conflict or an event) that the mapping does not declare, or not with a captured legacy side.',
    fix: 'Use one of the aggregates the message lists, or declare it in the mapping.',
  },
  SFG_SYNC_UNSYNCABLE_EVENT: {
    means: 'An event no retry can apply: unknown aggregate type, no key or version, or no origin header. It goes to the DLQ.',
    fix: 'Inspect the event in the DLQ; fix its producer or the mapping, then replay it.',
  },
  SFG_SYNC_UNTRANSLATABLE: {
    means: 'A value no translator rule can translate (an unmapped status, a non-number to scale). The event goes to the DLQ.',
    fix: 'Add the value to the mapping\'s translator, then replay the event from the DLQ.',
  },
  SFG_SYNC_CONFLICT: {
    means: 'Both sides wrote the same version and the aggregate\'s conflict rule is dead-letter.',
    fix: 'Decide which write wins: `strangler conflicts list`, then `strangler conflicts resolve`.',
  },
  SFG_SYNC_CONFLICT_UNKNOWN: {
    means: 'No recorded conflict has the given id (or it is not a number).',
    fix: 'Take the id from `strangler conflicts list`.',
  },
  SFG_SYNC_CONFLICT_RESOLVED: {
    means: 'The conflict was already resolved.',
    fix: 'Nothing to do; `strangler conflicts list` shows the open ones.',
  },
  SFG_SYNC_CONCURRENT_WRITE: {
    means: 'A concurrent writer created a row the sync had just found absent.',
    fix: 'None: the sync retries and decides again. Frequent ones mean both sides write the same aggregate at once.',
  },
  SFG_SYNC_TOAST_PLACEHOLDER: {
    means: 'A document about to be written holds Debezium\'s unavailable-value placeholder (an unchanged TOASTed column): writing it would destroy the stored value.',
    fix: 'Set REPLICA IDENTITY FULL on the legacy table so that captures carry every column.',
  },
  SFG_SYNC_CHANGE_NOT_VISIBLE: {
    means: 'Captured changes\' transactions stayed invisible to the sync\'s reads past the deadline.',
    fix: 'Look for long-running transactions on the legacy database; retriable.',
  },
  SFG_SYNC_LEGACY_LOCKED: {
    means: 'The legacy rows stayed locked by writers through every locking read.',
    fix: 'Look for long transactions holding the legacy\'s rows; retriable.',
  },
  SFG_SYNC_DATABASE_MISSING: {
    means: 'A database the sync needs was not given (both for a captured legacy), or a legacy table cannot be qualified with a database.',
    fix: 'Pass the missing connection URL, or name the database in the URL or the table (<database>.<table>).',
  },
  SFG_SYNC_DATABASE_MISMATCH: {
    means: 'The legacy stores were opened on another database engine than the one given to the sync.',
    fix: 'Open the legacy access and the sync on the same legacy database.',
  },
  SFG_SYNC_UNSUPPORTED: {
    means: 'The setup is not supported: a MySQL/MariaDB legacy\'s aggregates must be captured.',
    fix: 'Mark those aggregates `captured: true` in the mapping and run the binlog capture relay.',
  },
} as const satisfies ErrorCatalogue;

/** One of the codes of SYNC_ERROR_CODES (listed in docs/errors.md); a throw with another code fails the typecheck. */
export type SyncErrorCode = keyof typeof CODES;

/** Every sync error code: what it means and what to do (docs/errors.md is generated from it). */
export const SYNC_ERROR_CODES: ErrorCatalogueOf<SyncErrorCode> = CODES;

/** Base of every sync error: a stable `code`, whether a retry may help, and the underlying cause. */
export class SyncError extends StranglerError<SyncErrorCode> {
  declare readonly code: SyncErrorCode;

  constructor(code: SyncErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

export interface MappingIssue {
  /** Dotted path of the offending key, e.g. `aggregates.product.service.fields.priceCents`. */
  path: string;
  message: string;
}

/** The mapping file is invalid, or does not fit the live schema; `issues` lists every problem with its path. */
export class MappingInvalidError extends SyncError {
  readonly issues: MappingIssue[];

  constructor(code: 'SFG_SYNC_MAPPING_INVALID' | 'SFG_SYNC_SCHEMA_MISMATCH', issues: MappingIssue[], source?: string) {
    const what = code === 'SFG_SYNC_MAPPING_INVALID' ? 'invalid mapping' : 'the mapping does not fit the live schema';
    const lines = issues.map((issue) => `  - ${issue.path || '(root)'}: ${issue.message}`);
    super(code, `${what}${source ? ` (${source})` : ''}:\n${lines.join('\n')}`);
    this.issues = issues;
  }
}

/** An event that no retry can apply: unknown aggregate type, no key or version, no origin header. Goes to the DLQ. */
export class UnsyncableEventError extends SyncError {
  constructor(message: string) {
    super('SFG_SYNC_UNSYNCABLE_EVENT', message);
  }
}

/** Two sides wrote the same version and the mapping's conflict rule is `dead-letter`: an operator decides. */
export class SyncConflictError extends SyncError {
  constructor(message: string) {
    super('SFG_SYNC_CONFLICT', message);
  }
}
