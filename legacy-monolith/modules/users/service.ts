import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { findAggregate, rowToEntity, TABLES, type User } from '../../data/tables';
import { type Auth, DuplicateError, hashPassword, NotFoundError, UnauthorizedError, verifyPassword, withTransaction } from '../../../service-kit';
import { nextVersion, recordChange, type WriteContext } from '../../data/changes';

/** A user as the API shows it: everything but the password hash. */
export type PublicUser = Omit<User, 'passwordHash'>;

export function publicUser(user: User): PublicUser {
  const { passwordHash: _passwordHash, ...visible } = user;
  return visible;
}

const selectByEmail = `${TABLES.user.sql.select} where email = $1`;

export class UserService {
  constructor(
    private readonly pool: Pool,
    private readonly auth: Auth,
  ) {}

  async register(input: { email: string; name: string; password: string }, context: WriteContext): Promise<PublicUser> {
    const email = input.email.toLowerCase();
    const passwordHash = await hashPassword(input.password);
    return withTransaction(this.pool, async (client) => {
      // The unique index is the real guard; this check gives the friendly 409 in the common case.
      if ((await client.query(selectByEmail, [email])).rowCount) throw new DuplicateError('email', email);
      const now = new Date().toISOString();
      const user: User = { id: randomUUID(), email, name: input.name, passwordHash, version: 1, createdAt: now, updatedAt: now };
      await recordChange(client, 'user', user, 'UserRegistered', context).catch((error: { code?: string }) => {
        throw error.code === '23505' ? new DuplicateError('email', email) : error;
      });
      return publicUser(user);
    });
  }

  async login(input: { email: string; password: string }): Promise<{ token: string; user: PublicUser }> {
    const row = (await this.pool.query(selectByEmail, [input.email.toLowerCase()])).rows[0] as Record<string, unknown> | undefined;
    const user = row ? rowToEntity(TABLES.user, row) : undefined;
    if (!user || !(await verifyPassword(input.password, user.passwordHash))) throw new UnauthorizedError('wrong email or password');
    return { token: this.auth.issue(user), user: publicUser(user) };
  }

  async profile(id: string): Promise<PublicUser> {
    const stored = await findAggregate(this.pool, 'user', id);
    if (!stored) throw new NotFoundError('user', id);
    return publicUser(stored.entity);
  }

  updateProfile(id: string, changes: { name: string }, context: WriteContext): Promise<PublicUser> {
    return withTransaction(this.pool, async (client) => {
      const stored = await findAggregate(client, 'user', id, { forUpdate: true });
      if (!stored) throw new NotFoundError('user', id);
      const updated = nextVersion(stored.entity, changes);
      await recordChange(client, 'user', updated, 'UserUpdated', context);
      return publicUser(updated);
    });
  }
}
