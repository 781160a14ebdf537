import type http from 'node:http';
import type { ProxyError } from '../errors';

export function errorBody(error: ProxyError, requestId: string): string {
  return JSON.stringify({ error: { code: error.code, message: error.message, requestId } });
}

/** Answers with the consistent JSON error body, or cuts the connection when the response has already started. */
export function respondWithError(res: http.ServerResponse, error: ProxyError & { status: number }, requestId: string, closeConnection = false): void {
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  const body = errorBody(error, requestId);
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId,
  };
  if (closeConnection) headers.connection = 'close';
  res.writeHead(error.status, headers);
  res.end(body);
}
