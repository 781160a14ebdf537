/** Base of every strangler-proxy error: a stable `code`, whether a retry may help, and the underlying cause. */
export class ProxyError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

export interface ConfigIssue {
  /** Dotted path of the offending key, e.g. `routes.2.cluster`. */
  path: string;
  message: string;
}

/** The configuration is invalid; `issues` lists every problem found, each with its path. */
export class ConfigInvalidError extends ProxyError {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[], source?: string) {
    const lines = issues.map((issue) => `  - ${issue.path || '(root)'}: ${issue.message}`);
    super('SFG_PROXY_CONFIG_INVALID', `invalid proxy configuration${source ? ` in ${source}` : ''}:\n${lines.join('\n')}`);
    this.issues = issues;
  }
}

/** The configuration file could not be read or parsed as YAML. */
export class ConfigUnreadableError extends ProxyError {
  constructor(path: string, cause: unknown) {
    super('SFG_PROXY_CONFIG_UNREADABLE', `cannot read proxy configuration ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** A failure talking to an upstream cluster; `status` is what the client receives. */
export class UpstreamError extends ProxyError {
  readonly status: number;

  constructor(code: string, status: number, message: string, cause?: unknown) {
    super(code, message, { retriable: true, cause });
    this.status = status;
  }
}

export const upstreamConnectError = (cluster: string, cause?: unknown) =>
  new UpstreamError('SFG_PROXY_UPSTREAM_UNAVAILABLE', 502, `upstream cluster '${cluster}' is unavailable`, cause);
export const upstreamTimeoutError = (cluster: string) =>
  new UpstreamError('SFG_PROXY_UPSTREAM_TIMEOUT', 504, `upstream cluster '${cluster}' did not answer in time`);

/** A request the proxy refuses before any upstream sees it. */
export class RequestRejectedError extends ProxyError {
  readonly status: number;

  constructor(code: string, status: number, message: string) {
    super(code, message);
    this.status = status;
  }
}

export const badPathError = (reason: string) => new RequestRejectedError('SFG_PROXY_BAD_PATH', 400, `rejected request path: ${reason}`);
export const bodyTooLargeError = (limitBytes: number) =>
  new RequestRejectedError('SFG_PROXY_BODY_TOO_LARGE', 413, `request body exceeds the route limit of ${limitBytes} bytes`);

/** The flag provider could not be set up (e.g. its backup directory cannot be created). */
export class FlagProviderError extends ProxyError {
  constructor(message: string, cause?: unknown) {
    super('SFG_PROXY_FLAGS_UNAVAILABLE', message, { retriable: true, cause });
  }
}
