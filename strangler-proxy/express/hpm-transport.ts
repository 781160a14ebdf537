import http from 'node:http';
import https from 'node:https';
import { PassThrough } from 'node:stream';
import { createProxyMiddleware, type RequestHandler } from 'http-proxy-middleware';
import type { UpstreamEndpoint } from '../cluster';
import { headerObject, type UpstreamAttempt, type UpstreamRequest, type UpstreamTransport } from '../forward';
import type { ClusterConfig } from '../options';

/**
 * What http-proxy-middleware is handed as the request of one attempt: the exchange's method, path, headers and body
 * (a stream over the client's body, or its buffered copy), on the client's socket. The client's own request is read
 * once, by the exchange, so an attempt after a fallback or retry is a fresh message.
 */
type AttemptMessage = PassThrough & Pick<http.IncomingMessage, 'method' | 'url' | 'headers' | 'socket'> & { connection: http.IncomingMessage['socket'] };

/** An attempt's state on the http-proxy side: its upstream request once made, and a cancel that came before it. */
interface InFlight {
  attempt: UpstreamAttempt;
  upstream?: http.ClientRequest;
  cancelled?: Error;
}

const NO_NEXT = () => undefined;

/**
 * The express middleware's transport: each attempt goes through http-proxy-middleware (one instance and keep-alive
 * agent per endpoint), and its events are reported to the attempt as undici's handler callbacks, so the exchange
 * (decision, read-your-writes, fallback, breaker, shadow, metrics) is the standalone proxy's own.
 */
export class HttpProxyMiddlewareTransport implements UpstreamTransport {
  private readonly forwarders = new Map<string, RequestHandler>();
  private readonly agents: http.Agent[] = [];
  private readonly inFlight = new WeakMap<object, InFlight>();

  constructor(clusters: Iterable<ClusterConfig>) {
    for (const config of clusters) {
      for (const endpoint of config.endpoints) this.addEndpoint(endpoint, config);
    }
  }

  private addEndpoint(endpointUrl: string, config: ClusterConfig): void {
    if (this.forwarders.has(endpointUrl)) return;
    const url = new URL(endpointUrl);
    const agentOptions = { keepAlive: true, maxSockets: config.maxSockets, scheduling: 'lifo' as const };
    const agent = url.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.agents.push(agent);
    this.forwarders.set(
      endpointUrl,
      createProxyMiddleware<http.IncomingMessage, http.ServerResponse>({
        // The exchange sends the cluster's base path, sets Host and the X-Forwarded-* headers, and bounds the wait.
        target: url.origin,
        changeOrigin: false,
        xfwd: false,
        agent,
        selfHandleResponse: true,
        ejectPlugins: true,
        plugins: [
          (proxyServer) => {
            proxyServer.on('proxyReq', (upstream, message) => this.onUpstreamRequest(message, upstream));
            proxyServer.on('proxyRes', (response, message) => this.onUpstreamResponse(message, response));
            proxyServer.on('error', (error, message) => this.onUpstreamError(message, error));
            proxyServer.on('econnreset', (error, message) => this.onUpstreamError(message, error));
          },
        ],
      }),
    );
  }

  dispatch(endpoint: UpstreamEndpoint, request: UpstreamRequest, attempt: UpstreamAttempt, client: { req: http.IncomingMessage; res: http.ServerResponse }): void {
    const message = new PassThrough() as AttemptMessage;
    message.method = request.method;
    message.url = request.path;
    message.headers = headerObject(request.headers) as http.IncomingHttpHeaders;
    message.socket = client.req.socket;
    message.connection = client.req.socket;
    const flight: InFlight = { attempt };
    this.inFlight.set(message, flight);
    attempt.onConnect((reason) => {
      flight.cancelled = reason ?? new Error('attempt cancelled');
      flight.upstream?.destroy(flight.cancelled);
      message.destroy();
    });
    if (request.body === null) message.end();
    else if (Buffer.isBuffer(request.body)) message.end(request.body);
    else request.body.pipe(message);
    void this.forwarders.get(endpoint.url)!(message as unknown as http.IncomingMessage, client.res, NO_NEXT);
  }

  /** Destroys the keep-alive connections. */
  close(): void {
    for (const agent of this.agents) agent.destroy();
  }

  private onUpstreamRequest(message: http.IncomingMessage, upstream: http.ClientRequest): void {
    const flight = this.inFlight.get(message);
    if (!flight) return;
    flight.upstream = upstream;
    if (flight.cancelled) upstream.destroy(flight.cancelled);
  }

  private onUpstreamResponse(message: http.IncomingMessage, response: http.IncomingMessage): void {
    const flight = this.inFlight.get(message);
    if (!flight || flight.cancelled) {
      response.resume();
      return;
    }
    const { attempt } = flight;
    const raw = response.rawHeaders.map((text) => Buffer.from(text, 'latin1'));
    attempt.onHeaders(response.statusCode ?? 502, raw, () => response.resume());
    response.on('data', (chunk: Buffer) => {
      if (!attempt.onData(chunk)) response.pause();
    });
    response.once('end', () => attempt.onComplete());
    response.once('error', (error) => attempt.onError(error));
    response.once('aborted', () => attempt.onError(Object.assign(new Error('upstream response aborted'), { code: 'ECONNRESET' })));
  }

  private onUpstreamError(message: http.IncomingMessage, error: Error): void {
    const flight = this.inFlight.get(message);
    if (!flight) return;
    this.inFlight.delete(message);
    flight.attempt.onError(error);
  }
}
