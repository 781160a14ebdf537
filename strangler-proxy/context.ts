import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { FlagContext } from './flags/provider';
import type { ProxyConfig } from './options';

/** Who is asking, for bucketing only: nothing here is verified or trusted for authorisation. */
export interface RequestIdentity extends FlagContext {
  /** True when the proxy made the session id up and must set the cookie on the response. */
  newSession: boolean;
}

/** Builds the flag context from headers; everything that depends only on config is computed once. */
export class IdentityReader {
  private readonly cookiePrefix: string;
  private readonly cookieAttributes: string;

  constructor(private readonly options: ProxyConfig['context']) {
    this.cookiePrefix = `${options.sessionCookie}=`;
    this.cookieAttributes = `; Path=/; Max-Age=${options.sessionCookieMaxAgeSeconds}; HttpOnly; SameSite=Lax${options.sessionCookieSecure ? '; Secure' : ''}`;
  }

  /**
   * The flag context of a request. A session id is made up (and must be set as a cookie) only when it is needed for
   * bucketing: there is no session cookie and no userId (or the route ignores userIds).
   */
  read(headers: http.IncomingHttpHeaders, useUserId: boolean, remoteAddress: string | undefined): RequestIdentity {
    const userId = useUserId ? this.userId(headers) : undefined;
    const sessionId = this.sessionFromCookie(headers.cookie);
    if (sessionId !== undefined || userId !== undefined) return { userId, sessionId, remoteAddress, newSession: false };
    return { userId, sessionId: randomUUID(), remoteAddress, newSession: true };
  }

  setCookieValue(sessionId: string): string {
    return this.cookiePrefix + sessionId + this.cookieAttributes;
  }

  private userId(headers: http.IncomingHttpHeaders): string | undefined {
    const fromHeader = headers[this.options.userIdHeader];
    if (typeof fromHeader === 'string' && fromHeader !== '') return fromHeader;
    if (!this.options.jwtSubject) return undefined;
    const authorization = headers.authorization;
    return authorization && authorization.startsWith('Bearer ') ? unverifiedJwtSubject(authorization.slice(7)) : undefined;
  }

  private sessionFromCookie(cookie: string | undefined): string | undefined {
    if (!cookie) return undefined;
    let start = cookie.startsWith(this.cookiePrefix) ? 0 : cookie.indexOf(`; ${this.cookiePrefix}`);
    if (start === -1) {
      start = cookie.indexOf(`;${this.cookiePrefix}`);
      if (start === -1) return undefined;
      start += 1;
    } else if (start > 0) start += 2;
    const valueStart = start + this.cookiePrefix.length;
    const end = cookie.indexOf(';', valueStart);
    const value = (end === -1 ? cookie.slice(valueStart) : cookie.slice(valueStart, end)).trim();
    return value === '' ? undefined : value;
  }
}

/** The `sub` claim of a JWT, decoded without verifying the signature (bucketing only). */
export function unverifiedJwtSubject(token: string): string | undefined {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 1 || second === -1) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
