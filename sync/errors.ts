/** Base of every sync error: a stable `code`, whether a retry may help, and the underlying cause. */
export class SyncError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
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
