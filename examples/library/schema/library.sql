-- The legacy lending library's own schema. Nothing here comes from strangler-fig except the outbox table, which
-- follows the documented SQL contract (docs/outbox.md): any language writes it with a plain INSERT.
create table if not exists books (
  id               bigserial primary key,
  title            text not null,
  author           text not null,
  shelf            text not null,
  replacement_cost numeric(8, 2) not null,
  status           char(1) not null default 'S' check (status in ('S', 'L', 'W')),  -- on the shelf, lent, withdrawn
  version          integer not null default 1,
  last_writer      text not null default 'legacy'
);

create table if not exists members (
  id    bigserial primary key,
  name  text not null,
  email text not null unique
);

create table if not exists loans (
  id          bigserial primary key,
  book_id     bigint not null references books (id),
  member_id   bigint not null references members (id),
  lent_at     timestamptz not null default now(),
  returned_at timestamptz
);

create table if not exists outbox (
  id            uuid primary key,
  aggregatetype varchar(255) not null,
  aggregateid   varchar(255) not null,
  type          varchar(255) not null,
  payload       jsonb,
  headers       jsonb not null default '{}',
  created_at    timestamptz not null default now()
);
