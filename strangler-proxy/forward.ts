import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ClusterRuntime } from './cluster';
import type { ConsistencyTracker } from './consistency';
import type { RequestIdentity } from './context';
import { decide } from './decision';
import { bodyTooLargeError, upstreamConnectError, upstreamTimeoutError, type ProxyError } from './errors';
import type { FlagContext, FlagProvider } from './flags/provider';
import type { LegacyInventory } from './inventory';
import type { FallbackReason, ProxyMetrics, Target } from './metrics';
import { SAFE_METHODS } from './options';
import type { CompiledRoute, RouteTable } from './route-table';
import type { ShadowRunner } from './shadow';

/** What an exchange needs from the proxy; one object shared by every request. */
export interface ForwardingCore {
  flags: FlagProvider;
  metrics: ProxyMetrics;
  inventory: LegacyInventory;
  shadow: ShadowRunner;
  consistency: ConsistencyTracker;
  logger: Logger;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
/** Request headers never forwarded: hop-by-hop ones, and Expect (node's server has already answered 100-continue). */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'expect']);

/** Header names listed in `Connection:` are hop-by-hop too (RFC 9110 7.6.1). */
function connectionListed(value: string | undefined): string[] {
  if (!value || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return [];
  const names: string[] = [];
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name && name !== 'close' && name !== 'keep-alive' && name !== 'upgrade') names.push(name);
  }
  return names;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Header values as node's server parsed them (strings, set-cookie a list): what undici and node:http both accept. */
export type UpstreamHeaders = Record<string, string | string[] | undefined>;

/**
 * Request headers for the upstream: hop-by-hop headers stripped, X-Forwarded-* and X-Request-Id set,
 * everything else (traceparent included) passed through. X-Forwarded-For gets the client's address appended (the
 * last entry is the one the proxy saw); X-Forwarded-Host and -Proto describe the request the proxy received, unless
 * `trustForwarded` keeps the values a load balancer in front set.
 */
export function upstreamHeaders(req: http.IncomingMessage, requestId: string, keepUpgrade: boolean, trustForwarded: boolean): UpstreamHeaders {
  const incoming = req.headers;
  const headers: UpstreamHeaders = {};
  for (const name in incoming) {
    if (!NOT_FORWARDED.has(name)) headers[name] = incoming[name];
  }
  for (const name of connectionListed(incoming.connection)) delete headers[name];
  if (keepUpgrade && incoming.upgrade) {
    headers.connection = 'upgrade';
    headers.upgrade = incoming.upgrade;
  }
  const remote = req.socket.remoteAddress ?? '';
  const forwardedFor = incoming['x-forwarded-for'];
  headers['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${remote}` : remote;
  if (!trustForwarded || !incoming['x-forwarded-proto']) headers['x-forwarded-proto'] = (req.socket as Socket & { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (!trustForwarded || !incoming['x-forwarded-host']) {
    if (incoming.host) headers['x-forwarded-host'] = incoming.host;
    else delete headers['x-forwarded-host'];
  }
  headers['x-request-id'] = requestId;
  return headers;
}

/**
 * The upstream's raw response headers (latin1 bytes, as node's own parser reads them) as a [name, value, ...] list
 * (no header object is built), without hop-by-hop headers, plus the request id and, for a new session, its cookie.
 */
function forwardedResponseHeaders(raw: Buffer[], requestId: string, sessionCookie: string | undefined): string[] {
  const headers: string[] = [];
  let listed: string[] | undefined;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index]!.toString('latin1');
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') listed = connectionListed(raw[index + 1]!.toString('latin1'));
      continue;
    }
    headers.push(name, raw[index + 1]!.toString('latin1'));
  }
  if (listed && listed.length > 0) {
    const drop = new Set(listed);
    for (let index = headers.length - 2; index >= 0; index -= 2) if (drop.has(headers[index]!.toLowerCase())) headers.splice(index, 2);
  }
  headers.push('x-request-id', requestId);
  if (sessionCookie !== undefined) headers.push('set-cookie', sessionCookie);
  return headers;
}

export function errorBody(error: ProxyError, requestId: string): string {
  return JSON.stringify({ error: { code: error.code, message: error.message, requestId } });
}

/** Answers with the consistent JSON error body, or cuts the connection when the response has already started. */
export function respondWithError(res: http.ServerResponse, error: ProxyError & { status: number }, requestId: string, closeConnection = false): void {
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  const body = errorBody(error, requestId);
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId,
  };
  if (closeConnection) headers.connection = 'close';
  res.writeHead(error.status, headers);
  res.end(body);
}

const NO_CONTEXT: FlagContext = Object.freeze({});
const EXCHANGE = Symbol('strangler.exchange');
type Carrier = { [EXCHANGE]?: Exchange };

const RESPONSE_TIMED_OUT = new Error('response timed out');
const CLIENT_GONE = new Error('client closed the connection');
const BODY_TOO_LARGE = new Error('request body too large');
/** The connection broke after it was established (e.g. a pooled keep-alive socket the upstream had just closed). */
const DROPPED_CONNECTION = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

// Listeners are module-level functions that find their exchange on the emitter: no closures per request.
function onResponseTimeout(exchange: Exchange): void {
  exchange.timeOut();
}
function onClientClose(this: http.ServerResponse & Carrier): void {
  this[EXCHANGE]?.onClientClose();
}
function onClientDrain(this: http.ServerResponse & Carrier): void {
  this[EXCHANGE]?.resumeUpstream?.();
}
function onRequestChunk(this: http.IncomingMessage & Carrier, chunk: Buffer): void {
  this[EXCHANGE]?.countBody(chunk);
}

/**
 * undici's handler for one upstream attempt. Uses the raw callback API (Buffer headers, no per-request controller or
 * header object), which undici 7 dispatches natively. Callbacks of an attempt the exchange has moved on from
 * (fallback, retry, timeout) are ignored; the exchange compares identities.
 */
class UpstreamAttempt implements Dispatcher.DispatchHandler {
  private abortUpstream: ((reason?: Error) => void) | undefined;
  private cancelledWith: Error | undefined;

  constructor(private readonly exchange: Exchange) {}

  /** Stops the attempt now, or as soon as undici starts it when it still waits for a pooled connection. */
  cancel(reason: Error): void {
    if (this.abortUpstream) this.abortUpstream(reason);
    else this.cancelledWith = reason;
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.cancelledWith) abort(this.cancelledWith);
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    return this.exchange.onResponse(this, statusCode, rawHeaders, resume);
  }

  onData(chunk: Buffer): boolean {
    return this.exchange.onResponseData(this, chunk);
  }

  onComplete(): void {
    this.exchange.onResponseEnd(this);
  }

  onError(error: Error): void {
    this.exchange.onUpstreamError(this, error);
  }
}

/** One client request on its way through the proxy, including a possible fallback to legacy. */
export class Exchange {
  private readonly startedAt = performance.now();
  private readonly method: string;
  private readonly contentLength: number; // -1: chunked, length unknown
  private identitySession: string | undefined;
  private target: Target = 'legacy';
  private attempt: UpstreamAttempt | undefined;
  /** Set once the upstream answered: lets undici read on after the client's socket drained. */
  resumeUpstream: (() => void) | undefined;
  private waitingForDrain = false;
  private timer: NodeJS.Timeout | undefined;
  private status = 0;
  private verdictPending = false;
  private retriedDroppedConnection = false;
  private done = false;
  private bodyBytes = 0;
  private requestBody: Buffer | undefined;
  private captured: Buffer[] | undefined;
  private capturedBytes = 0;
  private shadowDropped = false;
  private headers!: UpstreamHeaders;
  private attemptCluster!: ClusterRuntime;
  private timedOut = false;
  /** Whose writes this request must see (read-your-writes): its userId, its session; empty when consistency is off. */
  private writerKeys: string[] = [];

  constructor(
    private readonly core: ForwardingCore,
    private readonly table: RouteTable,
    private readonly route: CompiledRoute,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly forwardPath: string,
    private readonly requestId: string,
  ) {
    this.method = req.method ?? 'GET';
    const length = req.headers['content-length'];
    this.contentLength = length !== undefined ? Number(length) : req.headers['transfer-encoding'] ? -1 : 0;
  }

  run(): void {
    const { route, req, res } = this;
    (res as http.ServerResponse & Carrier)[EXCHANGE] = this;
    res.on('close', onClientClose); // emitted once; `on` avoids a per-request once-wrapper
    if (this.contentLength > route.maxBodyBytes) {
      this.reject(bodyTooLargeError(route.maxBodyBytes), true);
      return;
    }
    let identity: RequestIdentity | undefined;
    if (route.flag !== undefined || route.shadow?.flag !== undefined) {
      identity = this.table.identity.read(req.headers, route.useUserId, req.socket.remoteAddress);
      if (identity.newSession) this.identitySession = identity.sessionId;
    }
    const context: FlagContext | undefined = identity;
    const decision = decide(route, this.table.unmatched.cluster, this.core.flags, context ?? NO_CONTEXT, true);
    if (decision.fallback) this.core.metrics.fallbacks.labels(route.id, decision.fallback).inc();
    this.target = decision.target;
    if (this.core.consistency.enabled) {
      identity ??= this.table.identity.read(req.headers, true, req.socket.remoteAddress);
      if (identity.userId !== undefined) this.writerKeys.push(identity.userId);
      // A session id made up for this request is a key only when the response sets its cookie. Both keys count: a
      // sign-up is known by its session, the requests after logging in by their userId too.
      if (identity.sessionId !== undefined && (!identity.newSession || this.identitySession !== undefined)) this.writerKeys.push(identity.sessionId);
      const pending = this.core.consistency.pendingFor(this.writerKeys, decision.cluster.name);
      if (pending) {
        void this.core.consistency.waitFor(decision.cluster, pending, route.id).then(() => {
          if (!this.done) this.proceed(decision.cluster, context);
        });
        return;
      }
    }
    this.proceed(decision.cluster, context);
  }

  private proceed(cluster: ClusterRuntime, context: FlagContext | undefined): void {
    const { route, req } = this;
    this.verdictPending = this.target === 'extracted';
    this.headers = upstreamHeaders(req, this.requestId, false, this.table.trustForwardedHeaders);
    if (this.contentLength === -1 && Number.isFinite(route.maxBodyBytes)) {
      (req as http.IncomingMessage & Carrier)[EXCHANGE] = this;
      req.on('data', onRequestChunk);
    }
    if (this.shouldShadow(context)) {
      this.captured = [];
      if (this.contentLength > 0) {
        this.bufferBodyThen(cluster);
        return;
      }
    }
    this.dispatch(cluster);
  }

  private shouldShadow(context: FlagContext | undefined): boolean {
    const shadow = this.route.shadow;
    if (!shadow) return false;
    if (!shadow.enabled && !(shadow.flag !== undefined && this.core.flags.isReady() && this.core.flags.isEnabled(shadow.flag, context ?? NO_CONTEXT))) return false;
    if (!SAFE_METHODS.has(this.method) && !shadow.allowWrites) return false;
    if (this.contentLength === -1 || this.contentLength > shadow.maxBodyBytes) {
      this.core.metrics.shadowComparisons.labels(this.route.id, 'dropped').inc();
      return false;
    }
    return true;
  }

  private bufferBodyThen(cluster: ClusterRuntime): void {
    const chunks: Buffer[] = [];
    this.req.on('data', (chunk: Buffer) => chunks.push(chunk));
    this.req.once('end', () => {
      this.requestBody = Buffer.concat(chunks);
      if (!this.done) this.dispatch(cluster);
    });
  }

  /** Safe, bodyless requests to the extracted side may be answered by legacy instead. */
  private canFallBack(): boolean {
    return this.target === 'extracted' && this.route.fallbackOnSafe && SAFE_METHODS.has(this.method) && this.contentLength === 0;
  }

  private dispatch(cluster: ClusterRuntime): void {
    this.attemptCluster = cluster;
    const headers = this.headers;
    headers.host = cluster.config.preserveHost && this.req.headers.host ? this.req.headers.host : cluster.hostHeader;
    const attempt = new UpstreamAttempt(this);
    this.attempt = attempt;
    this.timedOut = false;
    // Armed first: undici reports a request it refuses (closed pool, invalid header) synchronously.
    this.timer = setTimeout(onResponseTimeout, cluster.config.responseTimeoutMs, this);
    cluster.pool.dispatch({ method: this.method, path: cluster.basePath + this.forwardPath, headers, body: this.upstreamBody() }, attempt);
  }

  private upstreamBody(): Buffer | PassThrough | null {
    if (this.requestBody !== undefined) return this.requestBody;
    if (this.contentLength === 0) return null;
    // undici destroys a body stream it stops reading; through a pass-through, the client's request (and the
    // connection the proxy still answers on) survives an aborted attempt.
    const body = new PassThrough();
    this.req.pipe(body);
    return body;
  }

  /** Moves on from the current attempt: cancels it and ignores whatever it still reports. */
  private abandonAttempt(reason: Error): void {
    const attempt = this.attempt;
    this.attempt = undefined;
    attempt?.cancel(reason);
  }

  private fallBack(reason: FallbackReason): void {
    this.core.metrics.fallbacks.labels(this.route.id, reason).inc();
    this.core.logger.debug({ route: this.route.id, requestId: this.requestId, reason }, 'falling back to legacy');
    this.target = 'legacy';
    this.dispatch(this.table.unmatched.cluster);
  }

  private settleBreaker(success: boolean | undefined): void {
    if (!this.verdictPending) return;
    this.verdictPending = false;
    const breaker = this.route.cluster.breaker;
    if (success === undefined) breaker.onAbandon();
    else if (success) breaker.onSuccess();
    else breaker.onFailure();
  }

  /** Final status and headers from the upstream; a superseded attempt's response is read and discarded (its connection stays pooled). */
  onResponse(attempt: UpstreamAttempt, status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (attempt !== this.attempt || status < 200) return true;
    clearTimeout(this.timer);
    if (this.target === 'extracted') {
      this.settleBreaker(status < 500);
      if (status >= 500 && this.canFallBack()) {
        this.attempt = undefined;
        this.fallBack('upstream_5xx');
        return true;
      }
    }
    this.status = status;
    this.resumeUpstream = resume;
    if (this.writerKeys.length > 0 && status < 400 && !SAFE_METHODS.has(this.method)) this.recordWritten(rawHeaders);
    const cookie = this.identitySession === undefined ? undefined : this.table.identity.setCookieValue(this.identitySession);
    this.res.writeHead(status, forwardedResponseHeaders(rawHeaders, this.requestId, cookie));
    return true;
  }

  /** Remembers the events a successful write lists in the consistency header, for this user's later requests. */
  private recordWritten(rawHeaders: Buffer[]): void {
    const header = this.core.consistency.header;
    for (let index = 0; index < rawHeaders.length; index += 2) {
      const name = rawHeaders[index]!;
      if (name.length === header.length && name.toString('latin1').toLowerCase() === header) {
        this.core.consistency.record(this.writerKeys[0]!, this.attemptCluster.name, rawHeaders[index + 1]!.toString('latin1'));
      }
    }
  }

  /** Streams a body chunk to the client; false pauses undici until the client's socket drains. */
  onResponseData(attempt: UpstreamAttempt, chunk: Buffer): boolean {
    if (attempt !== this.attempt) return true;
    if (this.captured) this.capture(chunk);
    if (this.res.write(chunk)) return true;
    if (!this.waitingForDrain) {
      this.waitingForDrain = true;
      this.res.on('drain', onClientDrain);
    }
    return false;
  }

  onResponseEnd(attempt: UpstreamAttempt): void {
    if (attempt !== this.attempt) return;
    this.attempt = undefined;
    this.res.end();
  }

  timeOut(): void {
    if (!this.attempt || this.done) return;
    this.abandonAttempt(RESPONSE_TIMED_OUT);
    this.timedOut = true;
    this.attemptFailed(RESPONSE_TIMED_OUT);
  }

  onUpstreamError(attempt: UpstreamAttempt, error: Error): void {
    if (attempt !== this.attempt || this.done) return;
    this.attempt = undefined;
    this.attemptFailed(error);
  }

  private attemptFailed(error: Error & { code?: string }): void {
    clearTimeout(this.timer);
    if (this.status !== 0) {
      // The response had started: the client sees a cut connection, never a mixed answer.
      this.res.destroy(error);
      return;
    }
    const safeToRepeat = SAFE_METHODS.has(this.method) && this.contentLength === 0;
    if (safeToRepeat && !this.retriedDroppedConnection && !this.timedOut && DROPPED_CONNECTION.has(error.code ?? '')) {
      // Typically a pooled keep-alive connection the upstream had just closed; a safe, bodyless request may go once more.
      this.retriedDroppedConnection = true;
      this.dispatch(this.attemptCluster);
      return;
    }
    const reason: FallbackReason = this.timedOut ? 'timeout' : 'connect_error';
    this.core.logger.debug({ route: this.route.id, target: this.target, requestId: this.requestId, err: error }, 'upstream request failed');
    if (this.target === 'extracted') {
      this.settleBreaker(false);
      if (this.canFallBack()) {
        this.fallBack(reason);
        return;
      }
    }
    const cluster = this.attemptCluster.name;
    this.reject(reason === 'timeout' ? upstreamTimeoutError(cluster) : upstreamConnectError(cluster, error), false);
  }

  countBody(chunk: Buffer): void {
    this.bodyBytes += chunk.length;
    if (this.bodyBytes <= this.route.maxBodyBytes || this.done) return;
    this.abandonAttempt(BODY_TOO_LARGE);
    clearTimeout(this.timer);
    this.settleBreaker(undefined);
    this.reject(bodyTooLargeError(this.route.maxBodyBytes), true);
  }

  private capture(chunk: Buffer): void {
    if (!this.captured) return;
    this.capturedBytes += chunk.length;
    if (this.capturedBytes > (this.route.shadow?.maxBodyBytes ?? 0)) {
      this.captured = undefined;
      this.shadowDropped = true;
    } else this.captured.push(chunk);
  }

  /** Answers with an error from the proxy itself; counted like any response. */
  private reject(error: ProxyError & { status: number }, closeConnection: boolean): void {
    this.status = error.status;
    this.captured = undefined; // nothing to compare: no upstream answered
    this.shadowDropped = false;
    respondWithError(this.res, error, this.requestId, closeConnection);
  }

  onClientClose(): void {
    this.done = true;
    clearTimeout(this.timer);
    const completed = this.res.writableFinished;
    if (!completed) {
      this.abandonAttempt(CLIENT_GONE);
      this.settleBreaker(undefined);
    }
    const status = completed ? this.status : 499;
    const route = this.route;
    route.metrics[this.target].observe(this.method, status, (performance.now() - this.startedAt) / 1000);
    route.split[this.target] += 1;
    if (this.target === 'legacy') this.core.inventory.record(route.id, this.method, this.forwardPath);
    if (completed && (this.captured || this.shadowDropped)) this.enqueueShadow();
  }

  private enqueueShadow(): void {
    const route = this.route;
    const shadow = route.shadow!;
    if (this.shadowDropped || !this.captured) {
      this.core.metrics.shadowComparisons.labels(route.id, 'dropped').inc();
      return;
    }
    const other: Target = this.target === 'extracted' ? 'legacy' : 'extracted';
    const cluster = other === 'extracted' ? route.cluster : this.table.unmatched.cluster;
    this.core.shadow.enqueue({
      route: route.id,
      method: this.method,
      path: this.forwardPath,
      headers: { ...this.headers, host: cluster.hostHeader, 'x-shadow': '1' },
      body: this.requestBody,
      requestId: this.requestId,
      timeoutMs: shadow.timeoutMs,
      maxBodyBytes: shadow.maxBodyBytes,
      rules: shadow.rules,
      primary: { target: this.target, status: this.status, body: Buffer.concat(this.captured), cluster: this.attemptCluster },
      shadow: { target: other, cluster },
    });
  }
}

export function requestIdOf(req: http.IncomingMessage): string {
  const given = firstHeader(req.headers['x-request-id']);
  return given && given.length <= 200 ? given : randomUUID();
}
