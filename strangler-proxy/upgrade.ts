import http from 'node:http';
import type { Duplex } from 'node:stream';
import { decide } from './decision';
import { upgradeHeaders, type ForwardingCore } from './forward';
import type { RouteTable } from './route-table';

function statusLine(status: number, message: string | undefined): string {
  return `HTTP/1.1 ${status} ${message ?? http.STATUS_CODES[status] ?? ''}\r\n`;
}

/** Header block as the upstream sent it; for a body the proxy re-streams, framing becomes `connection: close`. */
function rawHeaderBlock(rawHeaders: string[], closeDelimited: boolean): string {
  let block = '';
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]!;
    if (closeDelimited && /^(transfer-encoding|content-length|connection|keep-alive)$/i.test(name)) continue;
    block += `${name}: ${rawHeaders[index + 1]}\r\n`;
  }
  return `${block}${closeDelimited ? 'connection: close\r\n' : ''}\r\n`;
}

export function refuseUpgrade(socket: Duplex, status: number, requestId: string): void {
  socket.end(`${statusLine(status, undefined)}connection: close\r\nx-request-id: ${requestId}\r\ncontent-length: 0\r\n\r\n`);
}

/**
 * WebSocket (and other HTTP/1.1 upgrade) requests go through the same route table and flag decision as plain
 * requests; once the upstream agrees to switch protocols, bytes are piped both ways. There is no fallback: a
 * refused upgrade is answered as the upstream answered it.
 */
export function forwardUpgrade(
  core: ForwardingCore,
  table: RouteTable,
  path: { path: string; forwardPath: string },
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  requestId: string,
  track: (socket: Duplex) => void,
): void {
  const method = req.method ?? 'GET';
  const route = table.match(method, path.path, req.headers);
  const context = route.flag !== undefined ? table.identity.read(req.headers, route.useUserId, req.socket.remoteAddress) : {};
  const decision = decide(route, table.unmatched.cluster, core.flags, context, true);
  if (decision.fallback) core.metrics.fallbacks.labels(route.id, decision.fallback).inc();
  const cluster = decision.cluster;
  const startedAt = performance.now();
  const finish = (status: number) => {
    route.metrics[decision.target].observe(method, status, (performance.now() - startedAt) / 1000);
    route.split[decision.target] += 1;
  };
  const endpoint = cluster.pick();
  const host = cluster.config.preserveHost && req.headers.host ? req.headers.host : endpoint.hostHeader;
  const headers = upgradeHeaders(req, requestId, table.trustForwardedHeaders, host);
  const upstream = endpoint.transport.request({ hostname: endpoint.hostname, port: endpoint.port, method, path: endpoint.basePath + path.forwardPath, headers });
  const timer = setTimeout(() => upstream.destroy(new Error('upgrade timed out')), cluster.config.connectTimeoutMs + cluster.config.responseTimeoutMs);
  socket.on('error', () => upstream.destroy());
  upstream.on('upgrade', (response, upstreamSocket, upstreamHead) => {
    clearTimeout(timer);
    if (decision.target === 'extracted') cluster.breaker.onSuccess();
    socket.write(statusLine(101, response.statusMessage) + rawHeaderBlock(response.rawHeaders, false));
    if (upstreamHead.length) socket.write(upstreamHead);
    if (head.length) upstreamSocket.write(head);
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('close', () => upstreamSocket.destroy());
    upstreamSocket.on('close', () => socket.destroy());
    upstreamSocket.pipe(socket).pipe(upstreamSocket);
    track(socket);
    finish(101);
  });
  upstream.on('response', (response) => {
    clearTimeout(timer);
    if (decision.target === 'extracted') cluster.breaker.onSuccess();
    socket.write(statusLine(response.statusCode ?? 502, response.statusMessage) + rawHeaderBlock(response.rawHeaders, true));
    response.pipe(socket);
    finish(response.statusCode ?? 502);
  });
  upstream.on('error', () => {
    clearTimeout(timer);
    if (decision.target === 'extracted') cluster.breaker.onFailure();
    refuseUpgrade(socket, 502, requestId);
    finish(502);
  });
  upstream.end();
}

