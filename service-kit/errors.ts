/** One problem with one input field, as the 400 body lists it. */
export interface FieldProblem {
  /** Dotted path into the request body or query, e.g. `items.0.quantity`. */
  field: string;
  message: string;
}

/**
 * Base of every case-study error. `status` is the HTTP status the API answers with; `code` is the stable
 * `SFG_CASE_<PROBLEM>` identifier that both the monolith and the services put into the JSON error body.
 */
export class CaseStudyError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retriable: boolean;

  constructor(code: string, status: number, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = status;
    this.retriable = options.retriable ?? false;
  }
}

export class ValidationError extends CaseStudyError {
  override readonly name = 'ValidationError';
  readonly fields: FieldProblem[];
  constructor(fields: FieldProblem[]) {
    super('SFG_CASE_VALIDATION', 400, `invalid input: ${fields.map((problem) => `${problem.field}: ${problem.message}`).join('; ')}`);
    this.fields = fields;
  }
}

export class UnauthorizedError extends CaseStudyError {
  override readonly name = 'UnauthorizedError';
  constructor(message = 'a valid bearer token is required', cause?: unknown) {
    super('SFG_CASE_UNAUTHORIZED', 401, message, { cause });
  }
}

export class NotFoundError extends CaseStudyError {
  override readonly name = 'NotFoundError';
  constructor(what: string, id: string) {
    super('SFG_CASE_NOT_FOUND', 404, `${what} ${id} not found`);
  }
}

export class InsufficientStockError extends CaseStudyError {
  override readonly name = 'InsufficientStockError';
  constructor(productId: string, available: number, requested: number) {
    super('SFG_CASE_INSUFFICIENT_STOCK', 409, `product ${productId} has ${available} in stock, ${requested} requested`);
  }
}

export class PaymentDeclinedError extends CaseStudyError {
  override readonly name = 'PaymentDeclinedError';
  readonly paymentId: string;
  readonly reason: string;
  constructor(paymentId: string, reason: string) {
    super('SFG_CASE_PAYMENT_DECLINED', 402, `payment ${paymentId} declined: ${reason}`);
    this.paymentId = paymentId;
    this.reason = reason;
  }
}

/** The aggregate exists but is not in a state that allows the operation (cancel twice, refund a declined payment). */
export class InvalidStateError extends CaseStudyError {
  override readonly name = 'InvalidStateError';
  constructor(message: string) {
    super('SFG_CASE_INVALID_STATE', 409, message);
  }
}

export class DuplicateError extends CaseStudyError {
  override readonly name = 'DuplicateError';
  constructor(field: string, value: string) {
    super('SFG_CASE_DUPLICATE', 409, `${field} ${value} is already taken`);
  }
}

/** Another service this one depends on (the owner of some data) did not answer: retry later. */
export class PeerUnavailableError extends CaseStudyError {
  override readonly name = 'PeerUnavailableError';
  constructor(peer: string, cause?: unknown) {
    super('SFG_CASE_PEER_UNAVAILABLE', 503, `${peer} is unavailable, try again`, { cause, retriable: true });
  }
}

/**
 * An error answer of a peer service, passed on unchanged (status, code, message and fields) by the service that
 * called it: a sold-out product stays a 409 SFG_CASE_INSUFFICIENT_STOCK whoever the client asked.
 */
export class PeerAnswerError extends CaseStudyError {
  override readonly name = 'PeerAnswerError';
  readonly fields: FieldProblem[] | undefined;
  constructor(peer: string, status: number, body: unknown) {
    const error = (body as { error?: { code?: unknown; message?: unknown; fields?: FieldProblem[] } } | undefined)?.error;
    const code = typeof error?.code === 'string' ? error.code : 'SFG_CASE_PEER_ERROR';
    super(code, status, typeof error?.message === 'string' ? error.message : `${peer} answered ${status}`);
    this.fields = error?.fields;
  }
}

/** Bad service configuration; lists every problem at once. Not an HTTP error. */
export class ConfigError extends CaseStudyError {
  override readonly name = 'ConfigError';
  readonly problems: FieldProblem[];
  constructor(problems: FieldProblem[]) {
    super('SFG_CASE_CONFIG', 500, `invalid configuration: ${problems.map((problem) => `${problem.field}: ${problem.message}`).join('; ')}`);
    this.problems = problems;
  }
}

/** A write with this `idempotency-key` is still running: the answer is not known yet, ask again. */
export class RequestInProgressError extends CaseStudyError {
  override readonly name = 'RequestInProgressError';
  constructor(key: string) {
    super('SFG_CASE_REQUEST_IN_PROGRESS', 503, `the request with idempotency key ${key} is still running, try again`, { retriable: true });
  }
}

/** An `idempotency-key` sent again with another method or path: it names a different request. */
export class IdempotencyKeyReusedError extends CaseStudyError {
  override readonly name = 'IdempotencyKeyReusedError';
  constructor(key: string, first: string) {
    super('SFG_CASE_IDEMPOTENCY_KEY_REUSED', 422, `idempotency key ${key} was first used for ${first}`);
  }
}
