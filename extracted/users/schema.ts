import type { Migration } from '../../outbox';

/** The users service's own table: accounts, each with a display name; passwords in the shared scrypt format. */
export const USERS_MIGRATIONS: Migration[] = [
  {
    id: 'users_001_accounts',
    sql: `
      create table accounts (
        id uuid primary key,
        email text not null unique,
        display_name text not null,
        password_hash text not null,
        version integer not null,
        origin text not null,
        registered_at timestamptz not null,
        updated_at timestamptz not null
      );
    `,
  },
];
