import type http from 'node:http';
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import type { ClusterRuntime } from '../cluster';
import type { ConsistencyTracker } from '../consistency';
import type { RequestIdentity } from '../context';
import { decide } from '../decision';
import { bodyTooLargeError, upstreamConnectError, upstreamTimeoutError, type ProxyError } from '../errors';
import type { FlagContext, FlagProvider } from '../flags/provider';
import type { LegacyInventory } from '../inventory';
import type { FallbackReason, ProxyMetrics, Target } from '../metrics';
import { SAFE_METHODS } from '../options';
import type { CompiledRoute, RouteTable } from '../route-table';
import type { ShadowRunner } from '../shadow';
import { respondWithError } from './error-response';
import { forwardedResponseHeaders, headerObject, rawHeaderValues, upstreamHeaderList } from './headers';
import { ResponseCapture } from './response-capture';
import type { UpstreamTransport } from './transport';
import { UpstreamAttempt, type AttemptOwner } from './upstream-attempt';

/** What an exchange needs from the proxy; one object shared by every request. */
export interface ForwardingCore {
  flags: FlagProvider;
  metrics: ProxyMetrics;
  inventory: LegacyInventory;
  shadow: ShadowRunner;
  consistency: ConsistencyTracker;
  logger: Logger;
  transport: UpstreamTransport;
}

/**
 * Where an exchange is:
 * - `routing`: deciding the side, waiting for the user's recent writes, or reading a body to shadow;
 * - `waiting`: an upstream attempt is out and nothing has reached the client yet;
 * - `streaming`: the upstream's status and headers went to the client, the body follows;
 * - `answered`: the proxy answered the client itself (an error);
 * - `closed`: the client's response closed and the request is counted. Nothing happens after that.
 */
type Phase = 'routing' | 'waiting' | 'streaming' | 'answered' | 'closed';

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

/** One client request on its way through the proxy, including a possible fallback to legacy. */
export class Exchange implements AttemptOwner {
  private phase: Phase = 'routing';
  private readonly startedAt = performance.now();
  private readonly method: string;
  private readonly contentLength: number; // -1: chunked, length unknown
  /** A session id the proxy made up for this request: the response sets its cookie. */
  private newSession: string | undefined;
  private target: Target = 'legacy';
  private cluster!: ClusterRuntime;
  /** The upstream request's headers, `host` first (see upstreamHeaderList). */
  private headers!: string[];
  /** The attempt whose callbacks count; undefined between attempts and once the response ended. */
  private attempt: UpstreamAttempt | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The status the client got (0 until then). */
  private status = 0;
  /** The extracted cluster's breaker admitted this request and waits for its verdict. */
  private owesBreakerVerdict = false;
  /** A safe request goes once more after a dropped pooled connection, not twice. */
  private retried = false;
  private listeningForDrain = false;
  private bodyBytes = 0;
  private requestBody: Buffer | undefined;
  private capture: ResponseCapture | undefined;
  /** Whose writes this request must see (read-your-writes): its userId, its session; empty when consistency is off. */
  private writerKeys: string[] = [];
  /** Set while streaming: lets undici read on after the client's socket drained. */
  resumeUpstream: (() => void) | undefined;

  constructor(
    private readonly core: ForwardingCore,
    private readonly table: RouteTable,
    private readonly route: CompiledRoute,
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse,
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
      if (identity.newSession) this.newSession = identity.sessionId;
    }
    const context: FlagContext | undefined = identity;
    const decision = decide(route, this.table.unmatched.cluster, this.core.flags, context ?? NO_CONTEXT, true);
    if (decision.fallback) this.core.metrics.fallbacks.labels(route.id, decision.fallback).inc();
    this.target = decision.target;
    this.owesBreakerVerdict = decision.target === 'extracted';
    if (this.core.consistency.enabled) {
      identity ??= this.table.identity.read(req.headers, true, req.socket.remoteAddress);
      if (identity.userId !== undefined) this.writerKeys.push(identity.userId);
      // A session id made up for this request is a key only when the response sets its cookie. Both keys count: a
      // sign-up is known by its session, the requests after logging in by their userId too.
      if (identity.sessionId !== undefined && (!identity.newSession || this.newSession !== undefined)) this.writerKeys.push(identity.sessionId);
      const pending = this.core.consistency.pendingFor(this.writerKeys, decision.cluster.name);
      if (pending) {
        void this.core.consistency.waitFor(decision.cluster, pending, route.id).then(() => {
          if (this.phase === 'routing') this.proceed(decision.cluster, context);
        });
        return;
      }
    }
    this.proceed(decision.cluster, context);
  }

  private proceed(cluster: ClusterRuntime, context: FlagContext | undefined): void {
    const { route, req } = this;
    this.headers = upstreamHeaderList(req, this.requestId, this.table.trustForwardedHeaders);
    if (this.contentLength === -1 && Number.isFinite(route.maxBodyBytes)) {
      (req as http.IncomingMessage & Carrier)[EXCHANGE] = this;
      req.on('data', onRequestChunk);
    }
    if (this.shouldShadow(context)) {
      this.capture = new ResponseCapture(route.shadow!.maxBodyBytes);
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
      if (this.phase === 'routing') this.dispatch(cluster);
    });
  }

  /** Safe, bodyless requests to the extracted side may be answered by legacy instead. */
  private canFallBack(): boolean {
    return this.target === 'extracted' && this.route.fallbackOnSafe && SAFE_METHODS.has(this.method) && this.contentLength === 0;
  }

  private dispatch(cluster: ClusterRuntime): void {
    this.phase = 'waiting';
    this.cluster = cluster;
    const endpoint = cluster.pick();
    const headers = this.headers;
    headers[1] = cluster.config.preserveHost && this.req.headers.host ? this.req.headers.host : endpoint.hostHeader;
    const attempt = new UpstreamAttempt(this, cluster, endpoint);
    this.attempt = attempt;
    // Armed first: undici reports a request it refuses (closed pool, invalid header) synchronously.
    this.timer = setTimeout(onResponseTimeout, cluster.config.responseTimeoutMs, this);
    this.core.transport.dispatch(endpoint, { method: this.method, path: endpoint.basePath + this.forwardPath, headers, body: this.upstreamBody() }, attempt, this);
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
    clearTimeout(this.timer);
    attempt?.cancel(reason, reason === RESPONSE_TIMED_OUT);
  }

  private fallBack(reason: FallbackReason): void {
    this.core.metrics.fallbacks.labels(this.route.id, reason).inc();
    this.core.logger.debug({ route: this.route.id, requestId: this.requestId, reason }, 'falling back to legacy');
    this.target = 'legacy';
    this.dispatch(this.table.unmatched.cluster);
  }

  /** Tells the extracted cluster's breaker how its request went; undefined: it never learnt (the client left). */
  private settleBreaker(success: boolean | undefined): void {
    if (!this.owesBreakerVerdict) return;
    this.owesBreakerVerdict = false;
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
    this.phase = 'streaming';
    this.status = status;
    this.resumeUpstream = resume;
    if (this.writerKeys.length > 0 && status < 400 && !SAFE_METHODS.has(this.method)) {
      // Remembers the events a successful write lists in the consistency header, for this user's later requests.
      for (const written of rawHeaderValues(rawHeaders, this.core.consistency.header)) this.core.consistency.record(this.writerKeys[0]!, this.cluster.name, written);
    }
    const cookie = this.newSession === undefined ? undefined : this.table.identity.setCookieValue(this.newSession);
    this.res.writeHead(status, forwardedResponseHeaders(rawHeaders, this.requestId, cookie));
    return true;
  }

  /** Streams a body chunk to the client; false pauses undici until the client's socket drains. */
  onResponseData(attempt: UpstreamAttempt, chunk: Buffer): boolean {
    if (attempt !== this.attempt) return true;
    this.capture?.add(chunk);
    if (this.res.write(chunk)) return true;
    if (!this.listeningForDrain) {
      this.listeningForDrain = true;
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
    if (!this.attempt || this.phase === 'closed') return;
    this.abandonAttempt(RESPONSE_TIMED_OUT);
    this.attemptFailed(RESPONSE_TIMED_OUT);
  }

  onUpstreamError(attempt: UpstreamAttempt, error: Error): void {
    if (attempt !== this.attempt || this.phase === 'closed') return;
    this.attempt = undefined;
    this.attemptFailed(error);
  }

  private attemptFailed(error: Error & { code?: string }): void {
    clearTimeout(this.timer);
    if (this.phase === 'streaming') {
      // The response had started: the client sees a cut connection, never a mixed answer.
      this.res.destroy(error);
      return;
    }
    const timedOut = error === RESPONSE_TIMED_OUT;
    const safeToRepeat = SAFE_METHODS.has(this.method) && this.contentLength === 0;
    if (safeToRepeat && !this.retried && !timedOut && DROPPED_CONNECTION.has(error.code ?? '')) {
      // Typically a pooled keep-alive connection the upstream had just closed; a safe, bodyless request may go once more.
      this.retried = true;
      this.dispatch(this.cluster);
      return;
    }
    this.core.logger.debug({ route: this.route.id, target: this.target, requestId: this.requestId, err: error }, 'upstream request failed');
    if (this.target === 'extracted') {
      this.settleBreaker(false);
      if (this.canFallBack()) {
        this.fallBack(timedOut ? 'timeout' : 'connect_error');
        return;
      }
    }
    this.reject(timedOut ? upstreamTimeoutError(this.cluster.name) : upstreamConnectError(this.cluster.name, error), false);
  }

  countBody(chunk: Buffer): void {
    this.bodyBytes += chunk.length;
    if (this.bodyBytes <= this.route.maxBodyBytes || this.phase === 'answered' || this.phase === 'closed') return;
    this.abandonAttempt(BODY_TOO_LARGE);
    this.settleBreaker(undefined);
    this.reject(bodyTooLargeError(this.route.maxBodyBytes), true);
  }

  /** Answers with an error from the proxy itself; counted like any response. */
  private reject(error: ProxyError & { status: number }, closeConnection: boolean): void {
    this.phase = 'answered';
    this.status = error.status;
    this.capture = undefined; // nothing to compare: no upstream answered
    respondWithError(this.res, error, this.requestId, closeConnection);
  }

  onClientClose(): void {
    const completed = this.res.writableFinished;
    if (!completed) {
      this.abandonAttempt(CLIENT_GONE);
      this.settleBreaker(undefined);
    } else clearTimeout(this.timer);
    this.phase = 'closed';
    const status = completed ? this.status : 499;
    const route = this.route;
    route.metrics[this.target].observe(this.method, status, (performance.now() - this.startedAt) / 1000);
    route.split[this.target] += 1;
    if (this.target === 'legacy') this.core.inventory.record(route.id, this.method, this.forwardPath);
    if (completed && this.capture) this.enqueueShadow(this.capture);
  }

  private enqueueShadow(capture: ResponseCapture): void {
    const route = this.route;
    const body = capture.body();
    if (!body) {
      this.core.metrics.shadowComparisons.labels(route.id, 'dropped').inc();
      return;
    }
    const other: Target = this.target === 'extracted' ? 'legacy' : 'extracted';
    const cluster = other === 'extracted' ? route.cluster : this.table.unmatched.cluster;
    const shadow = route.shadow!;
    this.core.shadow.enqueue({
      route: route.id,
      method: this.method,
      path: this.forwardPath,
      headers: { ...headerObject(this.headers), 'x-shadow': '1' },
      body: this.requestBody,
      requestId: this.requestId,
      timeoutMs: shadow.timeoutMs,
      maxBodyBytes: shadow.maxBodyBytes,
      rules: shadow.rules,
      primary: { target: this.target, status: this.status, body, cluster: this.cluster },
      shadow: { target: other, cluster },
    });
  }
}
