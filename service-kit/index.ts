/**
 * The case study's service kit: what the legacy monolith and every extracted service share, and nothing of their
 * domains. HTTP app and server lifecycle, the JSON error format and error classes, input validation, JWT auth
 * with a shared secret, transactions, domain events into the outbox, calls to a peer's API, the password hash
 * format and the stand-in payment provider.
 */
export { HttpApplication, type ApplicationDefinition, type ApplicationDeps, type MountContext, type ProcessPart } from './application';
export { Auth, currentUserId, type AuthOptions, type TokenSubject } from './auth';
export { contract } from './contract';
export { withTransaction } from './db';
export * from './errors';
export { recordEvent, type DomainEvent, type WriteContext } from './events';
export { createApiApp, errorBody, traceparentOf, writeContextOf, writtenRecorderOf, peerCallOf, type ErrorBody } from './http';
export { appOptionsSchema, appOptionsShape, baseUrl, DEMO_JWT_SECRET, parseAppOptions, parseOptions, type AppOptions, type AppOptionsInput } from './options';
export { hashPassword, verifyPassword } from './passwords';
export { authoriseCard, cardSchema, TEST_CARDS, type Authorisation, type Card } from './payment-gateway';
export { PeerClient, type PeerCall, type PeerResponse } from './peer';
export {
  DEFAULT_IDEMPOTENCY_RETENTION_MS,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENCY_MIGRATIONS,
  IDEMPOTENT_REPLAY_HEADER,
  IdempotencyKeyPruner,
  idempotentWrites,
  pruneIdempotencyKeys,
  type IdempotencyOptions,
} from './idempotency';
export { pathId } from './routing';
export { HttpService } from './server';
export { issuesToProblems, validate } from './validation';
