-- The issue service's own schema: Redmine's issues, shaped its own way. Words instead of lookup ids (tracker,
-- status, priority), the project by its identifier, timestamps with a time zone, a revision and the writer's name.
-- ticket ids are Redmine's issue ids (keys agree on both sides); new tickets take ids from 1000000 up, far above
-- Redmine's own sequence, so both sides can create issues while the route is split.
-- Redmine's users as the service shows them (authors): captured from Redmine's users table by the sync (aggregate
-- person, owned by Redmine), never written by the service but for the people of its configuration it has not seen.
create table if not exists people (
  id         integer primary key,     -- Redmine's user id
  login      text not null,           -- '' for Redmine's groups and its anonymous user
  name       text not null,           -- as Redmine shows it ("Redmine Admin": firstname lastname)
  revision   integer not null default 0,
  written_by text not null default 'tickets'
);

create table if not exists tickets (
  id              integer primary key,
  project         text not null,
  tracker         text not null check (tracker in ('bug', 'feature', 'support')),
  status          text not null check (status in ('new', 'in-progress', 'resolved', 'feedback', 'closed', 'rejected')),
  priority        text not null check (priority in ('low', 'normal', 'high', 'urgent', 'immediate')),
  subject         text not null,
  description     text,
  author_id       integer not null,
  start_date      date,
  due_date        date,
  done_ratio      integer not null default 0,
  estimated_hours double precision,
  is_private      boolean not null default false,
  created_at      timestamptz not null,
  updated_at      timestamptz not null,
  closed_at       timestamptz,
  revision        integer not null,
  written_by      text not null
);
create index if not exists tickets_project_status on tickets (project, status);

create sequence if not exists ticket_ids start 1000000;

create table if not exists outbox (
  id            uuid primary key,
  aggregatetype varchar(255) not null,
  aggregateid   varchar(255) not null,
  type          varchar(255) not null,
  payload       jsonb,
  headers       jsonb not null default '{}',
  created_at    timestamptz not null default now()
);
