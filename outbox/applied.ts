import type http from 'node:http';
import { Client, type Pool } from 'pg';
import type { Logger } from 'pino';
import { OutboxError } from './errors';
import { qualified } from './sql';

/** The channel an InboxConsumer notifies on when a transaction of applied events commits (option `notifyChannel`). */
export const INBOX_NOTIFY_CHANNEL = 'strangler_inbox';
/**
 * The response header a write answers with: the events it appended, as `<aggregatetype>:<event id>@<origin>`
 * entries, comma-separated (origin: the side that appended it, the `origin` event header). The proxy's read-your-writes asks the other side whether it has applied them.
 */
export const WRITTEN_HEADER = 'strangler-written';
/** Where `appliedEventsHandler` answers; the proxy's `consistency.appliedPath`. */
export const APPLIED_PATH = '/_strangler/applied';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_ENTRIES = 64;
const MAX_WAIT_MS = 10_000;
/** A safety net under the notifications: pending waits are re-read this often, in case one was missed. */
const RECHECK_MS = 50;
const RECONNECT_MS = 1_000;

export interface WrittenEntry {
  aggregateType: string;
  eventId: string;
  /** The side that appended the event; absent when the writer did not say. */
  origin?: string;
}

/** Parses a `strangler-written` value; an entry that is not `<aggregatetype>:<uuid>[@<origin>]` is an error naming it. */
export function parseWritten(value: string): WrittenEntry[] {
  const entries: WrittenEntry[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const at = entry.indexOf('@');
    const event = at === -1 ? entry : entry.slice(0, at);
    const origin = at === -1 ? undefined : entry.slice(at + 1);
    const colon = event.lastIndexOf(':');
    const eventId = event.slice(colon + 1).toLowerCase();
    if (colon < 1 || !UUID.test(eventId) || origin === '') {
      throw new OutboxError('SFG_OUTBOX_INVALID_WRITTEN', `"${entry.slice(0, 100)}" is not <aggregatetype>:<event uuid>[@<origin>]`, { retriable: false });
    }
    entries.push({ aggregateType: event.slice(0, colon), eventId, ...(origin === undefined ? {} : { origin }) });
  }
  return entries;
}

export function formatWritten(aggregateType: string, eventId: string, origin: string): string {
  return `${aggregateType}:${eventId}@${origin}`;
}

export interface AppliedEventsOptions {
  /** The database the inbox consumers of this side apply to. */
  connectionString: string;
  pool: Pool;
  schema?: string;
  /** The aggregate types this side's inbox consumers apply: an entry of any other type is not waited for. */
  aggregateTypes: string[];
  /** This side's own origin: events it appended itself are never in its inbox and count as applied. */
  origin: string;
  notifyChannel?: string;
}

interface Waiter {
  missing: Set<string>;
  done(applied: boolean): void;
}

/**
 * Answers "has this side applied these events?", waiting up to a bound: woken by the NOTIFY an InboxConsumer sends
 * when a transaction of events commits, so a wait costs a LISTEN and one query per commit for all waiters, not a
 * poll loop per waiter. One LISTEN connection, reconnected when it drops; meanwhile waits are re-read every 50 ms.
 */
export class AppliedEvents {
  private readonly waiters = new Set<Waiter>();
  private readonly aggregateTypes: Set<string>;
  private readonly lookup: string;
  private readonly channel: string;
  private listener: Client | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private recheck: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private recheckWanted = false;
  private stopped = true;

  constructor(
    private readonly options: AppliedEventsOptions,
    private readonly logger: Logger,
  ) {
    this.aggregateTypes = new Set(options.aggregateTypes);
    this.lookup = `select distinct event_id::text from ${qualified(options.schema ?? 'public', 'inbox')} where event_id = any($1::uuid[])`;
    this.channel = options.notifyChannel ?? INBOX_NOTIFY_CHANNEL;
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.recheck = setInterval(() => this.check(), RECHECK_MS);
    this.recheck.unref();
    await this.listen();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnect);
    clearInterval(this.recheck);
    for (const waiter of this.waiters) waiter.done(false);
    this.waiters.clear();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  /** The entries this side applies (others are not its business) that it has not applied yet, after waiting up to `waitMs`. */
  async missing(entries: WrittenEntry[], waitMs: number): Promise<string[]> {
    const { origin } = this.options;
    const relevant = new Set(entries.filter((entry) => entry.origin !== origin && this.aggregateTypes.has(entry.aggregateType)).map((entry) => entry.eventId));
    if (relevant.size === 0) return [];
    const applied = await this.appliedOf([...relevant]);
    for (const id of applied) relevant.delete(id);
    if (relevant.size === 0 || waitMs <= 0 || this.stopped) return [...relevant];
    const waiter: Waiter = { missing: relevant, done: () => undefined };
    const finished = new Promise<boolean>((resolve) => (waiter.done = resolve));
    this.waiters.add(waiter);
    const timer = setTimeout(() => waiter.done(false), waitMs);
    await finished;
    clearTimeout(timer);
    this.waiters.delete(waiter);
    return [...waiter.missing];
  }

  private async appliedOf(ids: string[]): Promise<string[]> {
    const { rows } = await this.options.pool.query<{ event_id: string }>(this.lookup, [ids]);
    return rows.map((row) => row.event_id);
  }

  /** One query for every pending waiter; a check asked for while one runs runs once more after it. */
  private check(): void {
    if (this.waiters.size === 0) return;
    if (this.checking) {
      this.recheckWanted = true;
      return;
    }
    this.checking = (async () => {
      do {
        this.recheckWanted = false;
        const ids = new Set<string>();
        for (const waiter of this.waiters) for (const id of waiter.missing) ids.add(id);
        if (ids.size === 0) break;
        const applied = await this.appliedOf([...ids]).catch((error: unknown) => {
          this.logger.warn({ err: error }, 'applied-events lookup failed');
          return [] as string[];
        });
        for (const waiter of this.waiters) {
          for (const id of applied) waiter.missing.delete(id);
          if (waiter.missing.size === 0) waiter.done(true);
        }
      } while (this.recheckWanted && this.waiters.size > 0);
    })().finally(() => (this.checking = undefined));
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.options.connectionString, application_name: 'strangler-applied-events' });
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'applied-events listener failed; reconnecting');
      if (this.listener === client) this.listener = undefined;
      this.scheduleReconnect();
    });
    client.on('notification', () => this.check());
    try {
      await client.connect();
      await client.query(`listen "${this.channel}"`);
      this.listener = client;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (this.stopped) return;
      this.logger.warn({ err: error }, 'applied-events listener could not connect; retrying');
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    clearTimeout(this.reconnect);
    this.reconnect = setTimeout(() => void this.listen(), RECONNECT_MS);
    this.reconnect.unref();
  }
}

function answer(res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * `GET /_strangler/applied?events=<aggregatetype>:<id>,...&waitMs=<ms>`: 200 `{"applied": true}` once every
 * listed event this side applies is in its inbox, or `{"applied": false, "missing": [...]}` after `waitMs`
 * (at most 10 s). Entries this side appended itself, or of aggregate types it does not apply, count as applied. Mount it in any node:http
 * or Express app; it answers 400 naming the bad parameter, and calls `next` (or 404s) for other paths.
 */
export function appliedEventsHandler(applied: AppliedEvents): (req: http.IncomingMessage, res: http.ServerResponse, next?: () => void) => void {
  return (req, res, next) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname !== APPLIED_PATH || req.method !== 'GET') {
      if (next) return next();
      return answer(res, 404, { error: { code: 'SFG_OUTBOX_NOT_FOUND', message: `${req.method} ${url.pathname} is not here` } });
    }
    let entries: WrittenEntry[];
    const events = url.searchParams.get('events') ?? '';
    try {
      entries = parseWritten(events);
      if (entries.length === 0) throw new OutboxError('SFG_OUTBOX_INVALID_WRITTEN', 'lists no event', { retriable: false });
      if (entries.length > MAX_ENTRIES) throw new OutboxError('SFG_OUTBOX_INVALID_WRITTEN', `lists ${entries.length} events; at most ${MAX_ENTRIES}`, { retriable: false });
    } catch (error) {
      return answer(res, 400, { error: { code: 'SFG_OUTBOX_INVALID_WRITTEN', message: `events: ${(error as Error).message}` } });
    }
    const waitText = url.searchParams.get('waitMs') ?? '0';
    const waitMs = Number(waitText);
    if (!/^\d+$/.test(waitText) || waitMs > MAX_WAIT_MS) {
      return answer(res, 400, { error: { code: 'SFG_OUTBOX_INVALID_WRITTEN', message: `waitMs: must be an integer from 0 to ${MAX_WAIT_MS} (got "${waitText.slice(0, 20)}")` } });
    }
    applied.missing(entries, waitMs).then(
      (missing) => answer(res, 200, missing.length === 0 ? { applied: true } : { applied: false, missing }),
      (error: unknown) => answer(res, 503, { error: { code: 'SFG_OUTBOX_APPLIED_UNKNOWN', message: (error as Error).message } }),
    );
  };
}
