import type { Dispatcher } from 'undici';

/** What an attempt reports to; `attempt` lets the owner ignore an attempt it has moved on from. */
export interface AttemptOwner {
  onResponse(attempt: UpstreamAttempt, status: number, rawHeaders: Buffer[], resume: () => void): boolean;
  onResponseData(attempt: UpstreamAttempt, chunk: Buffer): boolean;
  onResponseEnd(attempt: UpstreamAttempt): void;
  onUpstreamError(attempt: UpstreamAttempt, error: Error): void;
}

/**
 * undici's handler for one upstream attempt. Uses the raw callback API (Buffer headers, no per-request controller or
 * header object), which undici 7 dispatches natively. Callbacks of an attempt the owner has moved on from
 * (fallback, retry, timeout) are ignored there: the owner compares identities.
 */
export class UpstreamAttempt implements Dispatcher.DispatchHandler {
  private abortUpstream: ((reason?: Error) => void) | undefined;
  private cancelledWith: Error | undefined;

  constructor(private readonly owner: AttemptOwner) {}

  /** Stops the attempt now, or as soon as undici starts it when it still waits for a pooled connection. */
  cancel(reason: Error): void {
    if (this.abortUpstream) this.abortUpstream(reason);
    else this.cancelledWith = reason;
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.cancelledWith) abort(this.cancelledWith);
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    return this.owner.onResponse(this, statusCode, rawHeaders, resume);
  }

  onData(chunk: Buffer): boolean {
    return this.owner.onResponseData(this, chunk);
  }

  onComplete(): void {
    this.owner.onResponseEnd(this);
  }

  onError(error: Error): void {
    this.owner.onUpstreamError(this, error);
  }
}
