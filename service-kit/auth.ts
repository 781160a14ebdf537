import { createSecretKey, type KeyObject } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import jwt from 'jsonwebtoken';
import { UnauthorizedError } from './errors';

export interface AuthOptions {
  /** HS256 secret shared by the monolith and every service, so a token from either side works on both. */
  jwtSecret: string;
  tokenTtlSeconds: number;
}

export interface TokenSubject {
  id: string;
  email: string;
}

const ISSUER = 'strangler-fig-shop';

/** Issues and checks the shop's bearer tokens. One instance per process. */
export class Auth {
  /** Express middleware: rejects with 401 unless a valid bearer token is present; puts the user id in res.locals. */
  readonly requireUser: RequestHandler;
  /** A key object made once: given the secret as a string, jsonwebtoken first tries it as a PEM public key on every call. */
  private readonly key: KeyObject;

  constructor(private readonly options: AuthOptions) {
    this.key = createSecretKey(Buffer.from(options.jwtSecret, 'utf8'));
    this.requireUser = (req, res, next) => {
      const header = req.headers.authorization;
      if (!header?.startsWith('Bearer ')) throw new UnauthorizedError();
      res.locals.userId = this.verify(header.slice('Bearer '.length)).id;
      next();
    };
  }

  issue(subject: TokenSubject): string {
    return jwt.sign({ email: subject.email }, this.key, {
      algorithm: 'HS256',
      subject: subject.id,
      issuer: ISSUER,
      expiresIn: this.options.tokenTtlSeconds,
    });
  }

  verify(token: string): TokenSubject {
    try {
      const claims = jwt.verify(token, this.key, { algorithms: ['HS256'], issuer: ISSUER }) as jwt.JwtPayload;
      if (typeof claims.sub !== 'string') throw new Error('token has no subject');
      return { id: claims.sub, email: String(claims.email ?? '') };
    } catch (error) {
      throw new UnauthorizedError('invalid or expired token', error);
    }
  }
}

/** The authenticated user's id, set by Auth.requireUser. */
export function currentUserId(res: Response): string {
  return res.locals.userId as string;
}
