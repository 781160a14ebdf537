import net from 'node:net';
import tls from 'node:tls';
import { UpstreamConnection, type ConnectionOwner, type HttpRequest, type ResponseHandler } from './connection';
import { poolClosed } from './errors';

export interface HttpPoolOptions {
  /** `http://host:port` or `https://host:port`; a path is ignored. */
  origin: string;
  /** The most connections open at once; further requests wait in order. */
  connections: number;
  connectTimeoutMs: number;
  /** An idle connection is closed after this long, before a node upstream's default keep-alive timeout (5 s). */
  idleTimeoutMs?: number;
}

/** A request waiting for a connection; `connection` is set once it runs. */
interface Dispatched {
  readonly request: HttpRequest;
  readonly handler: ResponseHandler;
  connection: UpstreamConnection | undefined;
}

const noop = () => undefined;

/**
 * Keep-alive HTTP/1.1 connections to one origin, one request at a time on each. The most recently used idle
 * connection goes first (the others age out), requests beyond `connections` queue in order.
 */
export class HttpPool implements ConnectionOwner {
  private readonly connect: () => net.Socket;
  private readonly maxConnections: number;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly open = new Set<UpstreamConnection>();
  /** Oldest first: connections are taken from and returned to the end. */
  private readonly idle: UpstreamConnection[] = [];
  private readonly queue: Dispatched[] = [];
  private readonly running = new Map<UpstreamConnection, Dispatched>();
  private state: 'open' | 'closing' | 'destroyed' = 'open';
  private readonly sweepTimer: NodeJS.Timeout;
  private drained: Array<() => void> = [];

  constructor(options: HttpPoolOptions) {
    const url = new URL(options.origin);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (url.protocol === 'https:') {
      const port = Number(url.port || 443);
      const servername = net.isIP(host) ? undefined : host;
      this.connect = () => tls.connect({ host, port, servername, ALPNProtocols: ['http/1.1'] });
    } else {
      const port = Number(url.port || 80);
      this.connect = () => net.connect({ host, port });
    }
    this.maxConnections = options.connections;
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 4_000;
    this.sweepTimer = setInterval(() => this.closeIdleConnections(), Math.max(100, this.idleTimeoutMs / 2));
    this.sweepTimer.unref();
  }

  get destroyed(): boolean {
    return this.state === 'destroyed';
  }

  /** Sends `request`; `handler.onConnect` is called before this returns, everything else later or at once on refusal. */
  dispatch(request: HttpRequest, handler: ResponseHandler): void {
    if (this.state !== 'open') {
      handler.onConnect(noop);
      handler.onError(poolClosed());
      return;
    }
    const dispatched: Dispatched = { request, handler, connection: undefined };
    handler.onConnect((reason) => this.abort(dispatched, reason));
    const connection = this.idle.pop() ?? (this.open.size < this.maxConnections ? this.openConnection() : undefined);
    if (connection) this.run(connection, dispatched);
    else this.queue.push(dispatched);
  }

  private abort(dispatched: Dispatched, reason: Error): void {
    if (dispatched.connection) {
      dispatched.connection.abort(dispatched.handler, reason);
      return;
    }
    const index = this.queue.indexOf(dispatched);
    if (index === -1) return;
    this.queue.splice(index, 1);
    dispatched.handler.onError(reason);
  }

  private openConnection(): UpstreamConnection {
    const connection = new UpstreamConnection(this, this.connect(), this.connectTimeoutMs);
    this.open.add(connection);
    return connection;
  }

  private run(connection: UpstreamConnection, dispatched: Dispatched): void {
    dispatched.connection = connection;
    this.running.set(connection, dispatched);
    connection.send(dispatched.request, dispatched.handler);
  }

  /** The connection finished a request and may carry another. */
  released(connection: UpstreamConnection): void {
    this.running.delete(connection);
    const next = this.queue.shift();
    if (next) {
      this.run(connection, next);
      return;
    }
    if (this.state !== 'open') {
      connection.socket.destroy();
      return;
    }
    connection.idleSince = Date.now();
    this.idle.push(connection);
  }

  /** The connection closed, busy or not. */
  removed(connection: UpstreamConnection): void {
    this.open.delete(connection);
    this.running.delete(connection);
    const index = this.idle.indexOf(connection);
    if (index !== -1) this.idle.splice(index, 1);
    if (this.state === 'open' && this.queue.length > 0 && this.open.size < this.maxConnections) {
      this.run(this.openConnection(), this.queue.shift()!);
      return;
    }
    this.settleIfDrained();
  }

  private closeIdleConnections(): void {
    const oldest = Date.now() - this.idleTimeoutMs;
    while (this.idle.length > 0 && this.idle[0]!.idleSince <= oldest) this.idle.shift()!.socket.destroy();
  }

  /** Refuses new requests; resolves once the queued and running ones have finished and every connection closed. */
  close(): Promise<void> {
    if (this.state === 'open') this.state = 'closing';
    clearInterval(this.sweepTimer);
    for (const connection of this.idle.splice(0)) connection.socket.destroy();
    return this.whenDrained();
  }

  /** Fails queued and running requests with SFG_HTTP_POOL_CLOSED and closes every connection. Idempotent. */
  destroy(): Promise<void> {
    this.state = 'destroyed';
    clearInterval(this.sweepTimer);
    for (const dispatched of this.queue.splice(0)) dispatched.handler.onError(poolClosed());
    for (const connection of this.open) {
      const dispatched = this.running.get(connection);
      if (dispatched) connection.abort(dispatched.handler, poolClosed());
      else connection.socket.destroy();
    }
    return this.whenDrained();
  }

  private whenDrained(): Promise<void> {
    if (this.open.size === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private settleIfDrained(): void {
    if (this.state === 'open' || this.open.size > 0 || this.queue.length > 0) return;
    const waiting = this.drained;
    this.drained = [];
    for (const resolve of waiting) resolve();
  }
}
