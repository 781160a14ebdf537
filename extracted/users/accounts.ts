import { randomUUID } from 'node:crypto';
import type { ClientBase, Pool } from 'pg';
import { DuplicateError, hashPassword, NotFoundError, recordEvent, UnauthorizedError, verifyPassword, withTransaction, type Auth, type WriteContext } from '../../service-kit';

/** An account as this service stores it and as its events carry it. */
export interface Account {
  id: string;
  email: string;
  displayName: string;
  passwordHash: string;
  version: number;
  registeredAt: string;
  updatedAt: string;
}

/** The public API's user: the shop's contract, the same on the monolith. */
export interface PublicUser {
  id: string;
  email: string;
  name: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

const COLUMNS = 'id, email, display_name, password_hash, version, registered_at, updated_at';

function fromRow(row: Record<string, unknown>): Account {
  return {
    id: String(row.id),
    email: String(row.email),
    displayName: String(row.display_name),
    passwordHash: String(row.password_hash),
    version: Number(row.version),
    registeredAt: (row.registered_at as Date).toISOString(),
    updatedAt: (row.updated_at as Date).toISOString(),
  };
}

export function toPublicUser(account: Account): PublicUser {
  return { id: account.id, email: account.email, name: account.displayName, version: account.version, createdAt: account.registeredAt, updatedAt: account.updatedAt };
}

async function save(client: ClientBase, account: Account, type: string, context: WriteContext): Promise<void> {
  await client.query(
    `insert into accounts (${COLUMNS}, origin) values ($1, $2, $3, $4, $5, $6, $7, $8)
     on conflict (id) do update set email = excluded.email, display_name = excluded.display_name, password_hash = excluded.password_hash,
       version = excluded.version, origin = excluded.origin, updated_at = excluded.updated_at`,
    [account.id, account.email, account.displayName, account.passwordHash, account.version, account.registeredAt, account.updatedAt, context.origin],
  );
  await recordEvent(client, { aggregateType: 'user', aggregateId: account.id, type, version: account.version, payload: account }, context);
}

/** Registration, login and profile of accounts; the unique index on email refuses a second registration at once. */
export class Accounts {
  constructor(
    private readonly pool: Pool,
    private readonly auth: Auth,
  ) {}

  async register(input: { email: string; name: string; password: string }, context: WriteContext): Promise<PublicUser> {
    const email = input.email.toLowerCase();
    const passwordHash = await hashPassword(input.password);
    const now = new Date().toISOString();
    const account: Account = { id: randomUUID(), email, displayName: input.name, passwordHash, version: 1, registeredAt: now, updatedAt: now };
    await withTransaction(this.pool, (client) => save(client, account, 'UserRegistered', context)).catch((error: { code?: string }) => {
      throw error.code === '23505' ? new DuplicateError('email', email) : error;
    });
    return toPublicUser(account);
  }

  async login(input: { email: string; password: string }): Promise<{ token: string; user: PublicUser }> {
    const row = (await this.pool.query(`select ${COLUMNS} from accounts where email = $1`, [input.email.toLowerCase()])).rows[0];
    const account = row ? fromRow(row) : undefined;
    if (!account || !(await verifyPassword(input.password, account.passwordHash))) throw new UnauthorizedError('wrong email or password');
    return { token: this.auth.issue(account), user: toPublicUser(account) };
  }

  async profile(id: string): Promise<PublicUser> {
    const row = (await this.pool.query(`select ${COLUMNS} from accounts where id = $1`, [id])).rows[0];
    if (!row) throw new NotFoundError('user', id);
    return toPublicUser(fromRow(row));
  }

  rename(id: string, name: string, context: WriteContext): Promise<PublicUser> {
    return withTransaction(this.pool, async (client) => {
      const row = (await client.query(`select ${COLUMNS} from accounts where id = $1 for update`, [id])).rows[0];
      if (!row) throw new NotFoundError('user', id);
      const current = fromRow(row);
      const renamed: Account = { ...current, displayName: name, version: current.version + 1, updatedAt: new Date().toISOString() };
      await save(client, renamed, 'UserUpdated', context);
      return toPublicUser(renamed);
    });
  }
}
