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
import type { ConfigState } from './admin-client';
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

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1). */
export function authorised(header: string | undefined, token: string): boolean {
  if (!header || header.length < 7 || header.slice(0, 7).toLowerCase() !== 'bearer ') return false;
  const given = Buffer.from(header.slice(7));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** 200 when flags are loaded and legacy answers its health check, else 503; each cluster's health and circuit either way. */
export function sendReadiness(res: http.ServerResponse, source: Pick<AdminSource, 'table' | 'flags'>): void {
  const table = source.table();
  const clusters = Object.fromEntries(
    [table.unmatched.cluster, ...table.routes.map((entry) => entry.cluster)].map((cluster) => [
      cluster.name,
      { healthy: cluster.healthy ?? null, circuit: CIRCUIT_STATE_NAMES[cluster.breaker.current()] },
    ]),
  );
  const flagsReady = source.flags.isReady();
  const ready = flagsReady && table.unmatched.cluster.healthy === true;
  sendJson(res, ready ? 200 : 503, { ready, flagsReady, clusters });
}

export async function sendMetrics(res: http.ServerResponse, registry: Registry): Promise<void> {
  const text = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType });
  res.end(text);
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
  };
}

function explain(source: AdminSource, query: URLSearchParams) {
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

/** The admin API: every endpoint needs `Authorization: Bearer <admin.token>`. */
export function createAdminHandler(source: AdminSource): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    req.resume();
    if (!authorised(req.headers.authorization, source.adminToken())) {
      res.setHeader('www-authenticate', 'Bearer');
      sendJson(res, 401, { error: 'a valid bearer token is required' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://admin');
    const route = `${req.method} ${url.pathname.replace(/^\/admin(?=\/)/, '')}`;
    const handle = async () => {
      switch (route) {
        case 'GET /healthz':
          return sendJson(res, 200, { status: 'ok' });
        case 'GET /readyz':
          return sendReadiness(res, source);
        case 'GET /metrics':
          return sendMetrics(res, source.registry);
        case 'GET /routes':
          return sendJson(res, 200, routesView(source));
        case 'GET /explain': {
          const { status, body } = explain(source, url.searchParams);
          return sendJson(res, status, body);
        }
        case 'GET /inventory':
          return sendJson(res, 200, { endpoints: source.inventory.entries() });
        case 'GET /shadow/mismatches':
          return sendJson(res, 200, { mismatches: source.shadow.recentMismatches() });
        case 'POST /reload': {
          const result = await source.reload();
          return sendJson(res, result.ok ? 200 : 422, result);
        }
        default:
          return sendJson(res, 404, { error: `no admin endpoint ${route}` });
      }
    };
    handle().catch((error: Error) => sendJson(res, 500, { error: error.message }));
  };
}
