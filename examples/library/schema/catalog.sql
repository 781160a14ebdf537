-- The extracted catalogue service's schema: the same books, shaped differently. One legacy table becomes two,
-- the cost is kept in integer cents, and availability has its own vocabulary.
create table if not exists titles (
  title_id    bigint primary key,
  name        text not null,
  author_name text not null,
  revision    integer not null,
  written_by  text not null
);

create table if not exists title_copies (
  title_id     bigint primary key,
  shelf_code   text not null,
  cost_cents   integer not null,
  availability text not null check (availability in ('on-shelf', 'on-loan', 'withdrawn'))
);

-- New titles get ids far above legacy's, so both sides can create books while the route is split.
create sequence if not exists title_ids start 1000000;

create table if not exists outbox (
  id            uuid primary key,
  aggregatetype varchar(255) not null,
  aggregateid   varchar(255) not null,
  type          varchar(255) not null,
  payload       jsonb,
  headers       jsonb not null default '{}',
  created_at    timestamptz not null default now()
);
