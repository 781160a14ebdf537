import { StranglerError, type ErrorCatalogue, type ErrorCatalogueOf } from '../errors';

/** One problem with one input field, as the 400 body lists it. */
export interface FieldProblem {
  /** Dotted path into the request body or query, e.g. `items.0.quantity`. */
  field: string;
  message: string;
}

const CODES = {
  SFG_CASE_VALIDATION: { means: 'The request body or query is invalid (400); `fields` lists every problem.', fix: 'Correct the listed fields and send again.' },
  SFG_CASE_UNAUTHORIZED: { means: 'No valid bearer token (401).', fix: 'Log in (POST /api/users/login) and send Authorization: Bearer <token>.' },
  SFG_CASE_NOT_FOUND: { means: 'No such resource, or no route for the method and path (404).', fix: 'Check the id and the URL.' },
  SFG_CASE_INSUFFICIENT_STOCK: { means: 'The product has less stock than requested (409).', fix: 'Order fewer, or wait for a restock.' },
  SFG_CASE_PAYMENT_DECLINED: { means: 'The payment was declined (402); the reason is in the message.', fix: 'Pay with another card.' },
  SFG_CASE_INVALID_STATE: { means: 'The aggregate is not in a state that allows the operation (cancel twice, refund a declined payment) (409).', fix: 'Read its current state first.' },
  SFG_CASE_DUPLICATE: { means: 'A unique value (for example an email) is already taken (409).', fix: 'Use another value.' },
  SFG_CASE_PEER_UNAVAILABLE: { means: 'A service this one depends on did not answer (503).', fix: 'Retry later; check that the peer service runs.' },
  SFG_CASE_PEER_ERROR: { means: 'A peer service answered an error without a code of its own; it is passed on.', fix: 'Read the peer\'s status and message.' },
  SFG_CASE_REQUEST_IN_PROGRESS: { means: 'A write with this idempotency-key is still running (503).', fix: 'Ask again shortly with the same key.' },
  SFG_CASE_IDEMPOTENCY_KEY_REUSED: { means: 'An idempotency-key was sent again with another method or path (422).', fix: 'Use a new key for a new request.' },
  SFG_CASE_CONFIG: { means: 'The service\'s configuration is invalid; every problem is listed.', fix: 'Correct the listed settings (environment variables) and start again.' },
  SFG_CASE_INTERNAL: { means: 'An unexpected error (500); details are in the service\'s log only.', fix: 'Read the service\'s log.' },
} as const satisfies ErrorCatalogue;

/** One of the codes of CASE_ERROR_CODES (listed in docs/errors.md); a throw with another code fails the typecheck. */
export type CaseErrorCode = keyof typeof CODES;

/** Every case-study error code (monolith and services alike): what it means and what the API client should do. */
export const CASE_ERROR_CODES: ErrorCatalogueOf<CaseErrorCode> = CODES;

/**
 * Base of every case-study error. `status` is the HTTP status the API answers with; `code` is the stable
 * `SFG_CASE_<PROBLEM>` identifier that both the monolith and the services put into the JSON error body.
 */
export class CaseStudyError extends StranglerError<CaseErrorCode> {
  readonly status: number;

  constructor(code: CaseErrorCode, status: number, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(code, message, options);
    this.status = status;
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
    // A peer's code is one of this catalogue: the services share it.
    const code = typeof error?.code === 'string' ? (error.code as CaseErrorCode) : 'SFG_CASE_PEER_ERROR';
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
