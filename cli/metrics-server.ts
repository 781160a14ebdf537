import http from 'node:http';
import type { Registry } from 'prom-client';

/**
 * Serves GET /metrics from the registry on the port (0 picks a free one; every interface unless `host`), and
 * /healthz (200 while the process answers: a liveness probe); anything else is a 404.
 */
export function serveMetrics(registry: Registry, port: number, host?: string): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    if (request.url === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: Error) => response.writeHead(500).end(error.message),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** The port a listening server is bound to. */
export function boundPort(server: http.Server, fallback: number): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : fallback;
}
