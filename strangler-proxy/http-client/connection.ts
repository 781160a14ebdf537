import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { connectTimeout, invalidRequest, requestBodyFailed, socketClosed, type HttpClientError } from './errors';
import { ResponseParser, type ResponseEvents } from './response-parser';

/** One request for the pool: headers as a flat `[name, value, ...]` list, sent in that order. */
export interface HttpRequest {
  method: string;
  path: string;
  headers: string[];
  /** null: no body; a Buffer: sent with its length; a stream: sent with the Content-Length listed, else chunked. */
  body: Buffer | Readable | null;
}

/**
 * Receives one response. `onConnect` comes first, synchronously, with a function that stops the request whether it
 * is still queued or running (`onError` follows with the reason). `onHeaders` and `onData` return false to stop
 * reading from the upstream until `resume` is called. Exactly one of `onComplete` and `onError` ends it.
 */
export interface ResponseHandler {
  onConnect(abort: (reason: Error) => void): void;
  onHeaders(status: number, headers: string[], resume: () => void): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(error: Error): void;
}

/** What a connection tells its pool. */
export interface ConnectionOwner {
  released(connection: UpstreamConnection): void;
  removed(connection: UpstreamConnection): void;
}

const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';

/** A name or value that would end the line it is written on (header injection). */
function breaksLine(text: string): boolean {
  return text.indexOf('\n') !== -1 || text.indexOf('\r') !== -1;
}

/** One keep-alive connection to the upstream, carrying one request at a time (no pipelining). */
export class UpstreamConnection implements ResponseEvents {
  private readonly parser = new ResponseParser(this);
  private handler: ResponseHandler | undefined;
  private body: Readable | undefined;
  private bodySent = true;
  private responseEnded = false;
  private socketError: Error | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  /** When it went back to the pool's idle list (Date.now()). */
  idleSince = 0;
  private readonly resumeSocket = () => this.socket.resume();

  constructor(
    private readonly owner: ConnectionOwner,
    readonly socket: Socket,
    connectTimeoutMs: number,
  ) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    this.connectTimer = setTimeout(() => socket.destroy(connectTimeout(connectTimeoutMs)), connectTimeoutMs);
    socket.once('connect', () => clearTimeout(this.connectTimer));
    socket.once('secureConnect', () => clearTimeout(this.connectTimer));
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('error', (error: Error) => (this.socketError ??= error));
    socket.once('close', () => this.onSocketClose());
  }

  get busy(): boolean {
    return this.handler !== undefined;
  }

  /** Writes the request; the response comes to `handler`. The caller made sure the connection is free. */
  send(request: HttpRequest, handler: ResponseHandler): void {
    const { method, path, headers, body } = request;
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let lengthListed = false;
    let invalid = breaksLine(path) || path.indexOf(' ') !== -1;
    for (let index = 0; index < headers.length; index += 2) {
      const name = headers[index]!;
      const value = headers[index + 1]!;
      if (breaksLine(name) || breaksLine(value)) invalid = true;
      if (name.length === 14 && name.toLowerCase() === 'content-length') lengthListed = true;
      head += `${name}: ${value}\r\n`;
    }
    if (invalid) {
      // Nothing was written: the connection stays free for the next request.
      this.owner.released(this);
      handler.onError(invalidRequest());
      return;
    }
    this.handler = handler;
    this.responseEnded = false;
    this.parser.reset(method === 'HEAD');
    if (body === null) {
      this.bodySent = true;
      this.socket.write(head + CRLF, 'latin1');
    } else if (Buffer.isBuffer(body)) {
      this.bodySent = true;
      if (!lengthListed) head += `content-length: ${body.length}\r\n`;
      this.socket.cork();
      this.socket.write(head + CRLF, 'latin1');
      this.socket.write(body);
      this.socket.uncork();
    } else {
      this.bodySent = false;
      this.socket.write(lengthListed ? head + CRLF : `${head}transfer-encoding: chunked\r\n\r\n`, 'latin1');
      this.streamBody(body, !lengthListed);
    }
  }

  private streamBody(body: Readable, chunked: boolean): void {
    this.body = body;
    const socket = this.socket;
    const resumeBody = () => body.resume();
    body.on('data', (chunk: Buffer) => {
      if (this.body !== body || chunk.length === 0) return;
      let flowing;
      if (chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        flowing = socket.write(CRLF, 'latin1');
        socket.uncork();
      } else flowing = socket.write(chunk);
      if (!flowing) {
        body.pause();
        socket.once('drain', resumeBody);
      }
    });
    body.once('end', () => {
      if (this.body !== body) return;
      this.body = undefined;
      this.bodySent = true;
      if (chunked) socket.write(LAST_CHUNK, 'latin1');
    });
    body.once('error', (error: Error) => {
      if (this.body === body) this.fail(requestBodyFailed(error));
    });
  }

  /** Stops `handler`'s request if it still runs here: the connection is dropped (its response can no longer be told apart from the next). */
  abort(handler: ResponseHandler, reason: Error): void {
    if (this.handler === handler) this.fail(reason);
  }

  onHead(status: number, headers: string[]): void {
    if (this.handler && !this.handler.onHeaders(status, headers, this.resumeSocket)) this.socket.pause();
  }

  onBody(chunk: Buffer): void {
    if (this.handler && !this.handler.onData(chunk)) this.socket.pause();
  }

  onEnd(): void {
    this.responseEnded = true;
  }

  private onSocketData(chunk: Buffer): void {
    if (!this.handler) {
      // Bytes nobody asked for: the upstream is confused or pipelining; this connection cannot be trusted.
      this.socket.destroy();
      return;
    }
    const error = this.parser.execute(chunk);
    if (error) this.fail(error);
    // A response that ended before the request body was sent (an early 413, say) ends the request and its connection.
    else if (this.responseEnded) this.finish();
  }

  private onSocketClose(): void {
    clearTimeout(this.connectTimer);
    this.owner.removed(this);
    if (!this.handler) return;
    if (this.responseEnded || this.parser.closed()) this.finish();
    else this.fail(this.socketError ?? socketClosed(this.parser.started));
  }

  /** The response ended: the handler completes, the connection goes back to the pool or is dropped. */
  private finish(): void {
    const handler = this.handler!;
    this.handler = undefined;
    this.socket.resume();
    const reusable = this.parser.keepAlive && this.bodySent && !this.socket.destroyed;
    if (!this.bodySent) this.dropBody();
    handler.onComplete();
    if (reusable) this.owner.released(this);
    else this.socket.destroy();
  }

  private fail(error: HttpClientError | Error): void {
    const handler = this.handler!;
    this.handler = undefined;
    this.dropBody();
    this.socket.destroy();
    handler.onError(error);
  }

  private dropBody(): void {
    const body = this.body;
    this.body = undefined;
    if (body && !body.destroyed) body.destroy();
  }
}
