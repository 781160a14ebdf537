import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ClusterRuntime } from './cluster';
import { decide } from './decision';
import { bodyTooLargeError, upstreamConnectError, upstreamTimeoutError, type ProxyError } from './errors';
import type { FlagContext, FlagProvider } from './flags/provider';
import type { FallbackReason, ProxyMetrics, Target } from './metrics';
import { SAFE_METHODS } from './options';
import type { CompiledRoute, RouteTable } from './route-table';
import type { ShadowRunner } from './shadow';

/** What an exchange needs from the proxy; one object shared by every request. */
export interface ForwardingCore {
  flags: FlagProvider;
  metrics: ProxyMetrics;
  shadow: ShadowRunner;
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

/**
 * Request headers for the upstream: hop-by-hop headers stripped, X-Forwarded-* and X-Request-Id set,
 * everything else (traceparent included) passed through.
 */
export function upstreamHeaders(req: http.IncomingMessage, requestId: string, keepUpgrade: boolean): http.OutgoingHttpHeaders {
  const incoming = req.headers;
  const headers: http.OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (!HOP_BY_HOP.has(name)) headers[name] = incoming[name];
  }
  for (const name of connectionListed(incoming.connection)) delete headers[name];
  if (keepUpgrade && incoming.upgrade) {
    headers.connection = 'upgrade';
    headers.upgrade = incoming.upgrade;
  }
  const remote = req.socket.remoteAddress ?? '';
  const forwardedFor = incoming['x-forwarded-for'];
  headers['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${remote}` : remote;
  if (!incoming['x-forwarded-proto']) headers['x-forwarded-proto'] = (req.socket as Socket & { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (!incoming['x-forwarded-host'] && incoming.host) headers['x-forwarded-host'] = incoming.host;
  headers['x-request-id'] = requestId;
  return headers;
}

/**
 * The upstream's response headers as a raw [name, value, ...] list (no header object is built), without hop-by-hop
 * headers, plus the request id and, for a new session, its cookie.
 */
function forwardedResponseHeaders(raw: string[], requestId: string, sessionCookie: string | undefined): string[] {
  const headers: string[] = [];
  let listed: string[] | undefined;
  for (let index = 0; index < raw.length; index += 2) {
    const lower = raw[index]!.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') listed = connectionListed(raw[index + 1]);
      continue;
    }
    headers.push(raw[index]!, raw[index + 1]!);
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

// Listeners are module-level functions that find their exchange on the emitter: no closures per request.
function onUpstreamResponse(this: http.ClientRequest & Carrier, response: http.IncomingMessage): void {
  this[EXCHANGE]?.onResponse(this, response);
}
function onUpstreamError(this: http.ClientRequest & Carrier, error: NodeJS.ErrnoException): void {
  this[EXCHANGE]?.onUpstreamError(this, error);
}
function onResponseTimeout(exchange: Exchange, upstream: http.ClientRequest): void {
  exchange.timedOut = true;
  upstream.destroy(new Error('response timed out'));
}
function onClientClose(this: http.ServerResponse & Carrier): void {
  this[EXCHANGE]?.onClientClose();
}
function onCapturedChunk(this: http.IncomingMessage & Carrier, chunk: Buffer): void {
  this[EXCHANGE]?.capture(chunk);
}
function onRequestChunk(this: http.IncomingMessage & Carrier, chunk: Buffer): void {
  this[EXCHANGE]?.countBody(chunk);
}

/** One client request on its way through the proxy, including a possible fallback to legacy. */
export class Exchange {
  private readonly startedAt = performance.now();
  private readonly method: string;
  private readonly contentLength: number; // -1: chunked, length unknown
  private identitySession: string | undefined;
  private target: Target = 'legacy';
  private upstream: (http.ClientRequest & Carrier) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private status = 0;
  private verdictPending = false;
  private retriedStaleSocket = false;
  private done = false;
  private bodyBytes = 0;
  private requestBody: Buffer | undefined;
  private captured: Buffer[] | undefined;
  private capturedBytes = 0;
  private shadowDropped = false;
  private headers!: http.OutgoingHttpHeaders;
  private attemptCluster!: ClusterRuntime;
  timedOut = false;

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
    let context: FlagContext | undefined;
    if (route.flag !== undefined || route.shadow?.flag !== undefined) {
      const identity = this.table.identity.read(req.headers, route.useUserId, req.socket.remoteAddress);
      if (identity.newSession) this.identitySession = identity.sessionId;
      context = identity;
    }
    const decision = decide(route, this.table.unmatched.cluster, this.core.flags, context ?? NO_CONTEXT, true);
    if (decision.fallback) this.core.metrics.fallbacks.labels(route.id, decision.fallback).inc();
    this.target = decision.target;
    this.verdictPending = decision.target === 'extracted';
    this.headers = upstreamHeaders(req, this.requestId, false);
    if (this.contentLength === -1 && Number.isFinite(route.maxBodyBytes)) {
      (req as http.IncomingMessage & Carrier)[EXCHANGE] = this;
      req.on('data', onRequestChunk);
    }
    if (this.shouldShadow(context)) {
      this.captured = [];
      if (this.contentLength > 0) {
        this.bufferBodyThen(decision.cluster);
        return;
      }
    }
    this.dispatch(decision.cluster);
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
    const upstream: http.ClientRequest & Carrier = cluster.transport.request({
      agent: cluster.agent,
      hostname: cluster.hostname,
      port: cluster.port,
      method: this.method,
      path: cluster.basePath + this.forwardPath,
      headers,
    });
    upstream[EXCHANGE] = this;
    this.upstream = upstream;
    upstream.on('response', onUpstreamResponse);
    upstream.on('error', onUpstreamError);
    this.timedOut = false;
    this.timer = setTimeout(onResponseTimeout, cluster.config.responseTimeoutMs, this, upstream);
    if (this.requestBody !== undefined) upstream.end(this.requestBody);
    else if (this.contentLength !== 0) this.req.pipe(upstream);
    else upstream.end();
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

  onResponse(upstream: http.ClientRequest, response: http.IncomingMessage): void {
    if (upstream !== this.upstream || this.done) {
      response.resume();
      return;
    }
    clearTimeout(this.timer);
    const status = response.statusCode ?? 502;
    if (this.target === 'extracted') {
      this.settleBreaker(status < 500);
      if (status >= 500 && this.canFallBack()) {
        response.resume();
        this.fallBack('upstream_5xx');
        return;
      }
    }
    this.status = status;
    const cookie = this.identitySession === undefined ? undefined : this.table.identity.setCookieValue(this.identitySession);
    this.res.writeHead(status, forwardedResponseHeaders(response.rawHeaders, this.requestId, cookie));
    if (this.captured) {
      (response as http.IncomingMessage & Carrier)[EXCHANGE] = this;
      response.on('data', onCapturedChunk);
    }
    response.pipe(this.res);
  }

  onUpstreamError(upstream: http.ClientRequest, error: NodeJS.ErrnoException): void {
    if (upstream !== this.upstream || this.done) return;
    clearTimeout(this.timer);
    if (this.status !== 0) {
      // The response had started: the client sees a cut connection, never a mixed answer.
      this.res.destroy(error);
      return;
    }
    const safeToRepeat = SAFE_METHODS.has(this.method) && this.contentLength === 0;
    if (safeToRepeat && !this.retriedStaleSocket && upstream.reusedSocket && error.code === 'ECONNRESET') {
      // A pooled keep-alive socket the upstream had just closed: the request never reached it.
      this.retriedStaleSocket = true;
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
    this.upstream?.destroy();
    this.upstream = undefined;
    clearTimeout(this.timer);
    this.settleBreaker(undefined);
    this.reject(bodyTooLargeError(this.route.maxBodyBytes), true);
  }

  capture(chunk: Buffer): void {
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
      this.upstream?.destroy();
      this.settleBreaker(undefined);
    }
    const status = completed ? this.status : 499;
    const route = this.route;
    route.metrics[this.target].observe(this.method, status, (performance.now() - this.startedAt) / 1000);
    route.split[this.target] += 1;
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
      primary: { target: this.target, status: this.status, body: Buffer.concat(this.captured) },
      shadow: { target: other, cluster },
    });
  }
}

export function requestIdOf(req: http.IncomingMessage): string {
  const given = firstHeader(req.headers['x-request-id']);
  return given && given.length <= 200 ? given : randomUUID();
}
