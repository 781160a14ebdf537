import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Socket } from 'node:net';

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

/** Header values as node's server parsed them (strings, set-cookie a list): what node:http's client accepts. */
export type UpstreamHeaders = Record<string, string | string[] | undefined>;

/** Set by the proxy itself (below), never copied from the client. */
const REWRITTEN = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']);

/**
 * Request headers for the upstream as a flat `[name, value, ...]` list, which undici takes as it is (no header object
 * is built per request). Hop-by-hop headers are stripped, X-Forwarded-* and X-Request-Id set, everything else
 * (traceparent included) passed through. X-Forwarded-For gets the client's address appended (the last entry is the
 * one the proxy saw); X-Forwarded-Host and -Proto describe the request the proxy received, unless `trustForwarded`
 * keeps the values a load balancer in front set. `host` comes first with an empty value: each attempt sets
 * `list[1]` to the host its cluster wants.
 */
export function upstreamHeaderList(req: http.IncomingMessage, requestId: string, trustForwarded: boolean): string[] {
  const incoming = req.headers;
  const list = ['host', ''];
  const listed = connectionListed(incoming.connection);
  for (const name in incoming) {
    if (NOT_FORWARDED.has(name) || REWRITTEN.has(name) || (listed.length > 0 && listed.includes(name))) continue;
    const value = incoming[name]!;
    if (typeof value === 'string') list.push(name, value);
    else for (const each of value) list.push(name, each);
  }
  const remote = req.socket.remoteAddress ?? '';
  const forwardedFor = incoming['x-forwarded-for'];
  list.push('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${remote}` : remote);
  const proto = incoming['x-forwarded-proto'] as string | undefined; // node joins repeats of any header but set-cookie
  list.push('x-forwarded-proto', trustForwarded && proto ? proto : (req.socket as Socket & { encrypted?: boolean }).encrypted ? 'https' : 'http');
  const forwardedHost = trustForwarded && incoming['x-forwarded-host'] ? (incoming['x-forwarded-host'] as string) : incoming.host;
  if (forwardedHost) list.push('x-forwarded-host', forwardedHost);
  list.push('x-request-id', requestId);
  return list;
}

/** A header list as an object for node:http's client (repeated names become a list). */
export function headerObject(list: readonly string[]): UpstreamHeaders {
  const headers: UpstreamHeaders = {};
  for (let index = 0; index < list.length; index += 2) {
    const name = list[index]!;
    const value = list[index + 1]!;
    const previous = headers[name];
    headers[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return headers;
}

/** Headers for an upgrade request (WebSocket): the upstream list plus `Connection: upgrade` and the client's Upgrade. */
export function upgradeHeaders(req: http.IncomingMessage, requestId: string, trustForwarded: boolean, host: string): UpstreamHeaders {
  const list = upstreamHeaderList(req, requestId, trustForwarded);
  list[1] = host;
  const headers = headerObject(list);
  if (req.headers.upgrade) {
    headers.connection = 'upgrade';
    headers.upgrade = req.headers.upgrade;
  }
  return headers;
}

/** Lengths of the hop-by-hop names: most response headers are passed on without being lower-cased. */
const HOP_BY_HOP_LENGTHS = new Set([...HOP_BY_HOP].map((name) => name.length));

/**
 * The upstream's raw response headers (latin1 bytes, as node's own parser reads them) as a [name, value, ...] list
 * (no header object is built), without hop-by-hop headers, plus the request id and, for a new session, its cookie.
 */
export function forwardedResponseHeaders(raw: Buffer[], requestId: string, sessionCookie: string | undefined): string[] {
  const headers: string[] = [];
  let listed: string[] | undefined;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index]!.toString('latin1');
    if (HOP_BY_HOP_LENGTHS.has(name.length)) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower)) {
        if (lower === 'connection') listed = connectionListed(raw[index + 1]!.toString('latin1'));
        continue;
      }
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

/** Every value of the raw header `lowerName` (names compared without case), as latin1. */
export function rawHeaderValues(raw: Buffer[], lowerName: string): string[] {
  const values: string[] = [];
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index]!;
    if (name.length === lowerName.length && name.toString('latin1').toLowerCase() === lowerName) values.push(raw[index + 1]!.toString('latin1'));
  }
  return values;
}

/** The client's X-Request-Id when it sent a usable one, else a new UUID. */
export function requestIdOf(req: http.IncomingMessage): string {
  const given = req.headers['x-request-id'];
  const first = Array.isArray(given) ? given[0] : given;
  return first && first.length <= 200 ? first : randomUUID();
}
