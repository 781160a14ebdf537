import { z } from 'zod';
import { ConfigError } from './errors';
import { DEFAULT_IDEMPOTENCY_RETENTION_MS } from './idempotency';
import { issuesToProblems } from './validation';

/** The JWT secret the demo uses when JWT_SECRET is unset. Documented; set your own anywhere but on a laptop. */
export const DEMO_JWT_SECRET = 'strangler-fig-demo-jwt-secret';

/** What every case-study process takes: where it listens, its database, the shared token secret, pool and drain. */
export const appOptionsShape = {
  /** 0 picks a free port (tests). */
  port: z.number().int().min(0).max(65535),
  host: z.string().min(1).default('127.0.0.1'),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  /** Shared by the monolith and every service: a token issued by either side is accepted by both. */
  jwtSecret: z.string().min(16).default(DEMO_JWT_SECRET),
  tokenTtlSeconds: z.number().int().positive().default(3600),
  poolSize: z.number().int().positive().default(10),
  /** How long stop() lets in-flight requests finish before closing their connections. */
  drainMs: z.number().int().nonnegative().default(5_000),
  /** How long a write's stored answer is replayed for its `idempotency-key`; older ones are pruned hourly. */
  idempotencyRetentionMs: z.number().int().positive().default(DEFAULT_IDEMPOTENCY_RETENTION_MS),
};

export const appOptionsSchema = z.strictObject(appOptionsShape);
export type AppOptions = z.output<typeof appOptionsSchema>;
export type AppOptionsInput = z.input<typeof appOptionsSchema>;

/** A base URL of another process's API: http(s), no trailing slash needed. */
export const baseUrl = z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, ''));

/** Validates options against `schema`, reporting every problem at once with its path (unknown keys included). */
export function parseOptions<Schema extends z.ZodType>(schema: Schema, input: unknown): z.output<Schema> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ConfigError(issuesToProblems(result.error.issues));
  return result.data;
}

export function parseAppOptions(input: unknown): AppOptions {
  return parseOptions(appOptionsSchema, input);
}
