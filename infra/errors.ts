export type InfraErrorCode =
  | 'SFG_INFRA_MISSING_TOOL'
  | 'SFG_INFRA_START_TIMEOUT'
  | 'SFG_INFRA_START_FAILED'
  | 'SFG_INFRA_POSTGRES_CONFIG'
  | 'SFG_INFRA_MYSQL_CONFIG'
  | 'SFG_INFRA_FETCH_FAILED';

export class InfraError extends Error {
  readonly code: InfraErrorCode;
  readonly retriable: boolean;

  constructor(code: InfraErrorCode, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = 'InfraError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}
