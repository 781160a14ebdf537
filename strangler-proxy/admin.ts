import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { Registry } from 'prom-client';
import { CIRCUIT_STATE_NAMES } from './circuit';
import { decide, DECISION_EXPLANATIONS } from './decision';
import type { FlagProvider } from './flags/provider';
import { LEGACY, SAFE_METHODS } from './options';
import { normalizePath } from './path';
import type { LegacyInventory } from './inventory';
import { extractedPercent, type RecentSplits } from './recent-split';
import type { CompiledRoute, RouteTable } from './route-table';
import type { ClusterView, ConfigState } from './admin-client';
import type { ShadowRunner } from './shadow';

/** What the admin API reads from (and asks of) the running proxy. */
export interface AdminSource {
  table(): RouteTable;
  adminToken(): string;
  flags: FlagProvider;
  registry: Registry;
  shadow: ShadowRunner;
  reload(): Promise<{ ok: true } | { ok: false; error: string }>;
  recentSplits: RecentSplits;
  inventory: LegacyInventory;
  configState(): ConfigState;
}

/** One admin answer, independent of the transport (HTTP here, IPC between a worker and its primary). */
export interface AdminAnswer {
  status: number;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is, with `contentType` (the Prometheus exposition). */
  text?: string;
  contentType?: string;
}

/** An admin request as the endpoints see it: `path` without the `/admin` prefix, `query` its search string. */
export interface AdminRequest {
  method: string;
  path: string;
  query: string;
}

export type AdminEndpoints = (request: AdminRequest) => Promise<AdminAnswer>;

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendAnswer(res: http.ServerResponse, answer: AdminAnswer): void {
  if (answer.text === undefined) return sendJson(res, answer.status, answer.body);
  res.writeHead(answer.status, { 'content-type': answer.contentType ?? 'text/plain; charset=utf-8' });
  res.end(answer.text);
}

/** `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1). */
export function authorised(header: string | undefined, token: string): boolean {
  if (!header || header.length < 7 || header.slice(0, 7).toLowerCase() !== 'bearer ') return false;
  const given = Buffer.from(header.slice(7));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Readiness as GET /readyz answers it; `ready` (200, else 503) needs flags loaded and legacy healthy. */
export interface ReadinessView {
  ready: boolean;
  flagsReady: boolean;
  clusters: Record<string, { healthy: boolean | null; circuit: string }>;
}

function readiness(source: Pick<AdminSource, 'table' | 'flags'>): AdminAnswer {
  const table = source.table();
  const clusters = Object.fromEntries(
    [table.unmatched.cluster, ...table.routes.map((entry) => entry.cluster)].map((cluster) => [
      cluster.name,
      { healthy: cluster.healthy ?? null, circuit: CIRCUIT_STATE_NAMES[cluster.breaker.current()] },
    ]),
  );
  const flagsReady = source.flags.isReady();
  const ready = flagsReady && table.unmatched.cluster.healthy === true;
  return { status: ready ? 200 : 503, body: { ready, flagsReady, clusters } satisfies ReadinessView };
}

function routesView(source: AdminSource) {
  const table = source.table();
  const flags = source.flags;
  const split = (route: CompiledRoute) => ({
    ...route.split,
    extractedPercent: extractedPercent(route.split),
    lastMinute: source.recentSplits.view(route.id, route.split),
  });
  return {
    flagsReady: flags.isReady(),
    config: source.configState(),
    routes: table.routes.map((route) => ({
      id: route.id,
      order: route.config!.order,
      match: route.config!.match,
      cluster: route.cluster.name,
      flag: route.flag ?? null,
      rolloutPercent: route.flag === undefined ? (route.cluster.name === LEGACY ? 0 : 100) : (flags.rolloutPercent?.(route.flag) ?? null),
      stickiness: route.config!.stickiness,
      fallback: route.config!.fallback,
      shadow: route.shadow ? { enabled: route.shadow.enabled, flag: route.shadow.flag ?? null, allowWrites: route.shadow.allowWrites } : null,
      circuit: CIRCUIT_STATE_NAMES[route.cluster.breaker.current()],
      clusterHealthy: route.cluster.healthy ?? null,
      split: split(route),
    })),
    unmatched: { cluster: LEGACY, split: split(table.unmatched) },
    clusters: clustersView(table),
  };
}

function clustersView(table: RouteTable): Record<string, ClusterView> {
  const now = performance.now();
  const clusters = new Map([table.unmatched.cluster, ...table.routes.map((route) => route.cluster)].map((cluster) => [cluster.name, cluster]));
  return Object.fromEntries(
    [...clusters.values()].map((cluster) => [
      cluster.name,
      {
        loadBalancing: cluster.config.loadBalancing,
        endpoints: cluster.endpoints.map((endpoint) => ({ url: endpoint.url, healthy: endpoint.healthy ?? null, ejected: endpoint.ejected(now), outstanding: endpoint.outstanding })),
      },
    ]),
  );
}

function explain(source: AdminSource, query: URLSearchParams): AdminAnswer {
  const table = source.table();
  const method = (query.get('method') ?? 'GET').toUpperCase();
  const rawPath = query.get('path');
  if (!rawPath) return { status: 400, body: { error: 'query parameter path is required' } };
  const normalized = normalizePath(rawPath, table.pathPolicy);
  if (!normalized.ok) return { status: 200, body: { method, path: rawPath, rejected: true, status: 400, reason: normalized.reason } };
  const headers = Object.fromEntries([...query.entries()].filter(([key]) => key.startsWith('header.')).map(([key, value]) => [key.slice(7).toLowerCase(), value]));
  const route = table.match(method, normalized.path, headers);
  const userId = query.get('userId') ?? undefined;
  const sessionId = query.get('sessionId') ?? undefined;
  const context = { userId: route.useUserId ? userId : undefined, sessionId };
  const decision = decide(route, table.unmatched.cluster, source.flags, context, false);
  const notes: string[] = [];
  if (route.flag !== undefined && !context.userId && !sessionId) notes.push('no userId or sessionId given: a % rollout buckets this request randomly');
  return {
    status: 200,
    body: {
      method,
      path: rawPath,
      normalizedPath: normalized.path,
      forwardPath: normalized.forwardPath,
      route: route.id,
      flag: route.flag ?? null,
      flagsReady: source.flags.isReady(),
      target: decision.target,
      cluster: decision.cluster.name,
      reason: decision.reason,
      why: DECISION_EXPLANATIONS[decision.reason],
      fallbackOnFailure: route.fallbackOnSafe && SAFE_METHODS.has(method) && decision.target === 'extracted',
      circuit: CIRCUIT_STATE_NAMES[route.cluster.breaker.current()],
      notes,
    },
  };
}

/** What this process answers on its admin API. */
export function answerAdmin(source: AdminSource, request: AdminRequest): Promise<AdminAnswer> | AdminAnswer {
  switch (`${request.method} ${request.path}`) {
    case 'GET /healthz':
      return { status: 200, body: { status: 'ok' } };
    case 'GET /readyz':
      return readiness(source);
    case 'GET /metrics':
      return source.registry.metrics().then((text) => ({ status: 200, text, contentType: source.registry.contentType }));
    case 'GET /routes':
      return { status: 200, body: routesView(source) };
    case 'GET /explain':
      return explain(source, new URLSearchParams(request.query));
    case 'GET /inventory':
      return { status: 200, body: { endpoints: source.inventory.entries() } };
    case 'GET /shadow/mismatches':
      return { status: 200, body: { mismatches: source.shadow.recentMismatches() } };
    case 'POST /reload':
      return source.reload().then((result) => ({ status: result.ok ? 200 : 422, body: result }));
    default:
      return { status: 404, body: { error: `no admin endpoint ${request.method} ${request.path}` } };
  }
}

function adminRequestOf(req: http.IncomingMessage): AdminRequest {
  const url = new URL(req.url ?? '/', 'http://admin');
  return { method: req.method ?? 'GET', path: url.pathname.replace(/^\/admin(?=\/)/, ''), query: url.search };
}

function serve(res: http.ServerResponse, answer: Promise<AdminAnswer> | AdminAnswer): void {
  Promise.resolve(answer).then(
    (settled) => sendAnswer(res, settled),
    (error: Error) => sendJson(res, 500, { error: error.message }),
  );
}

/** The admin API over HTTP: every endpoint needs `Authorization: Bearer <adminToken()>`. */
export function createAdminHandler(
  endpoints: (request: AdminRequest) => Promise<AdminAnswer> | AdminAnswer,
  adminToken: () => string,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    req.resume();
    if (!authorised(req.headers.authorization, adminToken())) {
      res.setHeader('www-authenticate', 'Bearer');
      sendJson(res, 401, { error: 'a valid bearer token is required' });
      return;
    }
    serve(res, endpoints(adminRequestOf(req)));
  };
}

const PROBE_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The probe listener (`probes` in the config): GET or HEAD /healthz, /readyz and, unless `probes.metrics: false`,
 * /metrics, without a token, for kubelet probes and Prometheus scrapes. It changes nothing and shows no route
 * detail; every admin action stays on the admin listener behind its token.
 */
export function createProbeHandler(
  endpoints: (request: AdminRequest) => Promise<AdminAnswer> | AdminAnswer,
  serveMetrics: () => boolean,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'the probe listener is read-only: GET or HEAD' });
    }
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (PROBE_PATHS.has(path) && (path !== '/metrics' || serveMetrics())) return serve(res, endpoints({ method: 'GET', path, query: '' }));
    sendJson(res, 404, { error: `the probe listener serves /healthz, /readyz${serveMetrics() ? ' and /metrics' : ''}` });
  };
}
