import type http from 'node:http';
import type { PassThrough } from 'node:stream';
import type { UpstreamEndpoint } from '../cluster';
import type { UpstreamAttempt } from './upstream-attempt';

/** One attempt's request: the path includes the endpoint's base path; headers are a flat `[name, value, ...]` list, `host` first. */
export interface UpstreamRequest {
  method: string;
  path: string;
  headers: string[];
  body: Buffer | PassThrough | null;
}

/**
 * How an exchange's attempts reach the endpoint the cluster picked. The standalone proxy sends them through the cluster's undici pool; the
 * express middleware through http-proxy-middleware. Either way the attempt hears undici's handler callbacks
 * (onConnect, onHeaders, onData, onComplete, onError), so decision, fallback, breaker and metrics stay the exchange's.
 */
export interface UpstreamTransport {
  dispatch(endpoint: UpstreamEndpoint, request: UpstreamRequest, attempt: UpstreamAttempt, client: { req: http.IncomingMessage; res: http.ServerResponse }): void;
}

/** The standalone proxy's transport: the endpoint's keep-alive undici pool. */
export const POOL_TRANSPORT: UpstreamTransport = {
  dispatch(endpoint, request, attempt) {
    endpoint.pool.dispatch(request, attempt);
  },
};
