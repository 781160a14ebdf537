export class MigrationToolError extends Error {
  override readonly name = 'MigrationToolError';
  readonly retriable: boolean;
  constructor(
    readonly code: string,
    message: string,
    options: { cause?: unknown; retriable?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.retriable = options.retriable ?? false;
  }
}
