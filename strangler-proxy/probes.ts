import type http from 'node:http';
import { sendJson, sendMetrics, sendReadiness, type AdminSource } from './admin';

export type ProbeSource = Pick<AdminSource, 'table' | 'flags' | 'registry'> & { serveMetrics: () => boolean };

/**
 * The probe listener (`probes` in the config): GET or HEAD /healthz, /readyz and, unless `probes.metrics: false`,
 * /metrics, without a token, for kubelet probes and Prometheus scrapes. It changes nothing and shows no route
 * detail; every admin action stays on the admin listener behind its token.
 */
export function createProbeHandler(source: ProbeSource): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'the probe listener is read-only: GET or HEAD' });
    }
    switch (path) {
      case '/healthz':
        return sendJson(res, 200, { status: 'ok' });
      case '/readyz':
        return sendReadiness(res, source);
      case '/metrics':
        if (source.serveMetrics()) {
          sendMetrics(res, source.registry).catch((error: Error) => sendJson(res, 500, { error: error.message }));
          return;
        }
        break;
    }
    sendJson(res, 404, { error: `the probe listener serves /healthz, /readyz${source.serveMetrics() ? ' and /metrics' : ''}` });
  };
}
