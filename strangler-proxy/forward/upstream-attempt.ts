import type { Dispatcher } from 'undici';
import type { ClusterRuntime, UpstreamEndpoint } from '../cluster';

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
  /** The owner stopped it: an error undici then reports is the owner's doing, not the endpoint's. */
  private cancelled = false;
  /** The endpoint failed it (a 5xx, or cancelled for answering too late): its passive health counts that. */
  private failed = false;
  private settled = false;

  constructor(
    private readonly owner: AttemptOwner,
    private readonly cluster: ClusterRuntime,
    readonly endpoint: UpstreamEndpoint,
  ) {
    endpoint.outstanding += 1;
  }

  /**
   * Stops the attempt now, or as soon as undici starts it when it still waits for a pooled connection.
   * `endpointFailed`: the endpoint is to blame (it answered too late), not the client or a fallback.
   */
  cancel(reason: Error, endpointFailed = false): void {
    this.cancelled = true;
    if (endpointFailed) this.failed = true;
    if (this.abortUpstream) this.abortUpstream(reason);
    else this.cancelledWith = reason;
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.cancelledWith) abort(this.cancelledWith);
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode >= 500) this.failed = true;
    return this.owner.onResponse(this, statusCode, rawHeaders, resume);
  }

  onData(chunk: Buffer): boolean {
    return this.owner.onResponseData(this, chunk);
  }

  onComplete(): void {
    this.settle(false);
    this.owner.onResponseEnd(this);
  }

  onError(error: Error): void {
    this.settle(true);
    this.owner.onUpstreamError(this, error);
  }

  /** Once per attempt: frees its place on the endpoint and tells the cluster how it went. */
  private settle(errored: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.cluster.settle(this.endpoint, this.failed || (errored && !this.cancelled) ? 'failure' : errored ? 'neutral' : 'success');
  }
}
