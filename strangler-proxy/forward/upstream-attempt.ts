import type { ResponseHandler } from '../http-client';

/** What an attempt reports to; `attempt` lets the owner ignore an attempt it has moved on from. */
export interface AttemptOwner {
  onResponse(attempt: UpstreamAttempt, status: number, headers: string[], resume: () => void): boolean;
  onResponseData(attempt: UpstreamAttempt, chunk: Buffer): boolean;
  onResponseEnd(attempt: UpstreamAttempt): void;
  onUpstreamError(attempt: UpstreamAttempt, error: Error): void;
}

/**
 * The upstream client's handler for one attempt. Callbacks of an attempt the owner has moved on from (fallback,
 * retry, timeout) are ignored there: the owner compares identities.
 */
export class UpstreamAttempt implements ResponseHandler {
  private abortUpstream: ((reason: Error) => void) | undefined;
  private cancelledWith: Error | undefined;

  constructor(private readonly owner: AttemptOwner) {}

  /** Stops the attempt, queued or running. */
  cancel(reason: Error): void {
    if (this.abortUpstream) this.abortUpstream(reason);
    else this.cancelledWith = reason;
  }

  onConnect(abort: (reason: Error) => void): void {
    if (this.cancelledWith) abort(this.cancelledWith);
    else this.abortUpstream = abort;
  }

  onHeaders(status: number, headers: string[], resume: () => void): boolean {
    return this.owner.onResponse(this, status, headers, resume);
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
