import type { Pool } from 'pg';
import type { Auth } from '../../service-kit';
import type { OwnerDelegation } from '../delegation';

/** What every module's router needs: its database, the token issuer/checker, its origin and who owns which writes. */
export interface ModuleDeps {
  pool: Pool;
  auth: Auth;
  /** `legacy`: the `origin` of the monolith's events. */
  origin: string;
  delegation: OwnerDelegation;
}
