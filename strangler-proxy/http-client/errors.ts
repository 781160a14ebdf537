/** A failure of the upstream HTTP/1.1 client; `code` is stable. */
export class HttpClientError extends Error {
  constructor(
    readonly code: HttpClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpClientError';
  }
}

export type HttpClientErrorCode =
  /** No connection within `connectTimeoutMs`. */
  | 'SFG_HTTP_CONNECT_TIMEOUT'
  /** The upstream closed the connection before its response was complete (before any byte of it: a stale keep-alive connection, safe to repeat for a safe request). */
  | 'SFG_HTTP_SOCKET_CLOSED'
  /** The response broke HTTP/1.1 framing (status line, header syntax, conflicting or invalid lengths, chunk sizes). */
  | 'SFG_HTTP_BAD_RESPONSE'
  /** The pool was closed or destroyed. */
  | 'SFG_HTTP_POOL_CLOSED'
  /** The request line or a header would break HTTP/1.1 framing (a CR or LF in it, a space in the path). */
  | 'SFG_HTTP_INVALID_REQUEST'
  /** The request body stream failed. */
  | 'SFG_HTTP_REQUEST_BODY';

export const connectTimeout = (ms: number) => new HttpClientError('SFG_HTTP_CONNECT_TIMEOUT', `no connection to the upstream within ${ms} ms`);
export const socketClosed = (responseStarted: boolean) =>
  new HttpClientError('SFG_HTTP_SOCKET_CLOSED', responseStarted ? 'the upstream closed the connection in the middle of its response' : 'the upstream closed the connection before responding');
export const badResponse = (reason: string) => new HttpClientError('SFG_HTTP_BAD_RESPONSE', `invalid HTTP/1.1 response from the upstream: ${reason}`);
export const poolClosed = () => new HttpClientError('SFG_HTTP_POOL_CLOSED', 'the upstream connection pool is closed');
export const invalidRequest = () => new HttpClientError('SFG_HTTP_INVALID_REQUEST', 'the request line or a header contains CR, LF or (in the path) a space');
export const requestBodyFailed = (cause: unknown) => new HttpClientError('SFG_HTTP_REQUEST_BODY', 'the request body stream failed', { cause });
