import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { WRITTEN_HEADER, type Migration } from '../outbox';
import { IdempotencyKeyReusedError, RequestInProgressError, ValidationError } from './errors';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Set on an answer that was replayed from an earlier request with the same key. */
export const IDEMPOTENT_REPLAY_HEADER = 'idempotent-replayed';

export const IDEMPOTENCY_MIGRATIONS: Migration[] = [
  {
    id: 'kit_001_idempotency_keys',
    sql: `
      create table if not exists idempotency_keys (
        key text primary key,
        request text not null,
        status integer,
        body jsonb,
        written text,
        created_at timestamptz not null default now()
      )`,
  },
  {
    id: 'kit_002_idempotency_keys_created_at',
    sql: 'create index if not exists idempotency_keys_created_at on idempotency_keys (created_at)',
  },
];

/** How long a stored answer is kept by default: a client retries within minutes, not days. */
export const DEFAULT_IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000;
const PRUNE_BATCH = 5_000;

/**
 * Deletes stored answers older than `retainMs`, in batches (so no statement holds many locks), and answers how many
 * it deleted. A key sent again after that runs its request again.
 */
export async function pruneIdempotencyKeys(pool: Pool, retainMs: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const result = await pool.query(
      `delete from idempotency_keys where key in (
         select key from idempotency_keys where created_at < now() - make_interval(secs => $1) limit ${PRUNE_BATCH})`,
      [retainMs / 1000],
    );
    deleted += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < PRUNE_BATCH) return deleted;
  }
}

/** Prunes stored answers on start and then every `everyMs`; a failed round is logged and tried again next time. */
export class IdempotencyKeyPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly options: { retainMs: number; everyMs: number },
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.prune();
    this.timer = setInterval(() => void this.prune(), this.options.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private prune(): Promise<void> {
    this.running ??= pruneIdempotencyKeys(this.pool, this.options.retainMs)
      .then((deleted) => {
        if (deleted) this.logger.info({ deleted, retainMs: this.options.retainMs }, 'pruned stored idempotent answers');
      })
      .catch((error: unknown) => this.logger.warn({ err: error }, 'pruning stored idempotent answers failed; trying again later'))
      .finally(() => (this.running = undefined));
    return this.running;
  }
}

export interface IdempotencyOptions {
  /** How long a repeated request waits for the first one, still running, to answer. */
  waitMs: number;
  pollMs: number;
}

const MAX_KEY_LENGTH = 200;
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Makes a write sent with an `idempotency-key` header run once: its answer (status, body, `strangler-written`) is
 * stored before it is sent, and the same request sent again answers it unchanged instead of running again. A caller
 * whose request timed out can so send it again and learn what really happened. A repeat that arrives while the
 * first still runs waits for its answer, up to `waitMs` (then 503, retriable). An answer of 500 or more is not
 * kept: the write failed as a whole, and a repeat runs it afresh.
 */
export function idempotentWrites(pool: Pool, options: IdempotencyOptions = { waitMs: 4_000, pollMs: 25 }): RequestHandler {
  return (req, res, next) => {
    const key = req.headers[IDEMPOTENCY_KEY_HEADER];
    if (READS.has(req.method) || key === undefined) return next();
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      return next(new ValidationError([{ field: IDEMPOTENCY_KEY_HEADER, message: `must be one value of 1 to ${MAX_KEY_LENGTH} characters` }]));
    }
    serveOnce(pool, options, key, req, res, next).catch(next);
  };
}

async function serveOnce(pool: Pool, options: IdempotencyOptions, key: string, req: Request, res: Response, next: NextFunction): Promise<void> {
  const request = `${req.method} ${req.originalUrl}`;
  const deadline = performance.now() + options.waitMs;
  for (;;) {
    const claimed = await pool.query('insert into idempotency_keys (key, request) values ($1, $2) on conflict do nothing', [key, request]);
    if (claimed.rowCount === 1) {
      recordAnswer(pool, key, res);
      return next();
    }
    const row = (await pool.query('select request, status, body, written from idempotency_keys where key = $1', [key])).rows[0];
    if (row && row.request !== request) throw new IdempotencyKeyReusedError(key, row.request);
    if (row && row.status !== null) {
      res.setHeader(IDEMPOTENT_REPLAY_HEADER, 'true');
      if (row.written) res.setHeader(WRITTEN_HEADER, row.written);
      res.status(row.status).json(row.body);
      return;
    }
    // No row: the first request failed and released its key, so this one runs. A row without a status: it still runs.
    if (row && performance.now() >= deadline) throw new RequestInProgressError(key);
    if (row) await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
}

/** Stores the answer before it leaves, so a repeat never sees a write answered but not recorded. */
function recordAnswer(pool: Pool, key: string, res: Response): void {
  const send = res.json.bind(res);
  res.json = (body: unknown) => {
    const written = res.getHeader(WRITTEN_HEADER);
    const stored =
      res.statusCode >= 500
        ? pool.query('delete from idempotency_keys where key = $1', [key])
        : pool.query('update idempotency_keys set status = $2, body = $3, written = $4 where key = $1', [key, res.statusCode, JSON.stringify(body ?? null), written === undefined ? null : String(written)]);
    stored.then(
      () => send(body),
      () => send(body),
    );
    return res;
  };
}
