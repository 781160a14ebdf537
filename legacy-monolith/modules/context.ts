import type { Request } from 'express';
import type { Pool } from 'pg';
import type { Auth } from '../../extracted/common/auth';
import type { WriteContext } from '../../extracted/common/events';
import { traceparentOf } from '../../extracted/common/http';

/** What every module's router needs: its database, the token issuer/checker and who it writes as. */
export interface ModuleDeps {
  pool: Pool;
  auth: Auth;
  /** `legacy` in the monolith, the service name in an extracted service: the `origin` of its events. */
  origin: string;
}

export function writeContext(deps: ModuleDeps, req: Request): WriteContext {
  return { origin: deps.origin, traceparent: traceparentOf(req) };
}
