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
export function forwardedResponseHeaders(raw: Buffer[], requestId: string, sessionCookie: string | undefined): string[] {
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
