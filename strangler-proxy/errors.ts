import { StranglerError, type ErrorCatalogue, type ErrorCatalogueOf } from '../errors';

const CODES = {
  SFG_PROXY_CONFIG_INVALID: {
    means: 'The proxy configuration does not validate; the message lists every problem with its path.',
    fix: 'Correct each listed key in the YAML (see docs/proxy.md) and start again.',
  },
  SFG_PROXY_CONFIG_UNREADABLE: {
    means: 'The configuration file could not be read or is not YAML.',
    fix: 'Check the path given to --config, its permissions, and its YAML syntax.',
  },
  SFG_PROXY_UPSTREAM_UNAVAILABLE: {
    means: 'The upstream cluster refused or dropped the connection (answered 502 to the client).',
    fix: 'Check that the cluster\'s service is up and its URL in the configuration; a fallback route answers from the other side meanwhile.',
  },
  SFG_PROXY_UPSTREAM_TIMEOUT: {
    means: 'The upstream cluster did not answer within the route\'s timeout (answered 504 to the client).',
    fix: 'Look at the upstream\'s latency; raise the route\'s timeoutMs only if the slow answer is expected.',
  },
  SFG_PROXY_BAD_PATH: {
    means: 'The request path was refused before routing (400): it cannot be normalised safely (the reason is in the message).',
    fix: 'Send a normalised path; nothing to change on the proxy.',
  },
  SFG_PROXY_BODY_TOO_LARGE: {
    means: 'The request body is larger than the route\'s body limit (413).',
    fix: 'Send a smaller body, or raise the route\'s body limit in the configuration.',
  },
  SFG_PROXY_FLAGS_UNAVAILABLE: {
    means: 'The flag provider could not be set up (for example its backup directory cannot be created).',
    fix: 'Check the Unleash settings and that the flags backup directory is writable; retriable.',
  },
  SFG_PROXY_ADMIN_UNAUTHORISED: {
    means: 'No admin token was given, or the proxy\'s admin API refused it.',
    fix: 'Pass --token or set STRANGLER_ADMIN_TOKEN to the proxy\'s admin token.',
  },
  SFG_PROXY_ADMIN_UNREACHABLE: {
    means: 'The proxy\'s admin API could not be reached (no URL, a DNS name that does not resolve, or a refused connection).',
    fix: 'Check the --admin URL or DNS name (host:port) and that the proxy is running; retriable.',
  },
  SFG_PROXY_ADMIN_FAILED: {
    means: 'The proxy\'s admin API answered with an error status.',
    fix: 'Read the answer in the message; check the route name and the request, then the proxy\'s log.',
  },
  SFG_PROXY_STOPPED: {
    means: 'A stopped StranglerMiddleware was used again.',
    fix: 'Create a new middleware instead of restarting a stopped one.',
  },
  SFG_PROXY_UNLEASH_NO_TOKEN: {
    means: 'No Unleash admin token was given for a flag change.',
    fix: 'Set UNLEASH_ADMIN_TOKEN to an admin API token of your Unleash.',
  },
  SFG_PROXY_UNLEASH_UNREACHABLE: {
    means: 'Unleash could not be reached.',
    fix: 'Check the Unleash URL and that it is running; retriable.',
  },
  SFG_PROXY_UNLEASH_REJECTED: {
    means: 'Unleash\'s admin API answered with an error status.',
    fix: 'Read the answer in the message: usually a wrong token, project or environment name.',
  },
  SFG_PROXY_WORKER_FAILED: {
    means: 'The proxy\'s worker processes did not start.',
    fix: 'Read the cause in the message (often a port in use or an invalid configuration) and start again.',
  },
} as const satisfies ErrorCatalogue;

/** One of the codes of PROXY_ERROR_CODES (listed in docs/errors.md); a throw with another code fails the typecheck. */
export type ProxyErrorCode = keyof typeof CODES;

/** Every strangler-proxy error code: what it means and what to do (docs/errors.md is generated from it). */
export const PROXY_ERROR_CODES: ErrorCatalogueOf<ProxyErrorCode> = CODES;

/** Base of every strangler-proxy error: a stable `code`, whether a retry may help, and the underlying cause. */
export class ProxyError extends StranglerError<ProxyErrorCode> {
  declare readonly code: ProxyErrorCode;

  constructor(code: ProxyErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
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

  constructor(code: ProxyErrorCode, status: number, message: string, cause?: unknown) {
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

  constructor(code: ProxyErrorCode, status: number, message: string) {
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
