import { WRITTEN_HEADER } from '../outbox';
import { PeerUnavailableError } from './errors';

export interface PeerResponse<T = unknown> {
  status: number;
  body: T;
}

export interface PeerCall {
  body?: unknown;
  /** The caller's bearer token, passed on: the peer checks it with the shared secret. */
  authorization?: string;
  traceparent?: string;
  /** Told the peer's `strangler-written` entries, so the caller's answer lists what its peers wrote too. */
  recordWritten?: (entries: string[]) => void;
  /** Sent as `idempotency-key`: the peer runs the write once however often it is sent, and answers a repeat unchanged. */
  idempotencyKey?: string;
}

/**
 * Calls another service's public JSON API: the only way one case-study process touches data another owns. An
 * unreachable peer or one that does not answer within `timeoutMs` is a PeerUnavailableError (503, retriable);
 * any HTTP answer, error or not, is returned for the caller to interpret.
 */
export class PeerClient {
  constructor(
    readonly name: string,
    readonly baseUrl: string,
    private readonly timeoutMs = 5_000,
  ) {}

  async request<T = Record<string, unknown>>(method: string, path: string, call: PeerCall = {}): Promise<PeerResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    if (call.authorization) headers.authorization = call.authorization;
    if (call.traceparent) headers.traceparent = call.traceparent;
    if (call.idempotencyKey) headers['idempotency-key'] = call.idempotencyKey;
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw new PeerUnavailableError(this.name, error);
    }
    if (response.status >= 500) throw new PeerUnavailableError(`${this.name} (HTTP ${response.status})`);
    const written = response.headers.get(WRITTEN_HEADER);
    if (written && call.recordWritten) call.recordWritten(written.split(','));
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
}
