-- The post service's own schema: WordPress's wp_posts, shaped its own way. Every wp_posts row is carried (the mapping
-- language has no row filter: pages, revisions, attachments, menu items and global styles come too); the service
-- serves `kind = 'post'` only. Statuses and post types stay WordPress's words; open/closed become booleans; the four
-- dates become two instants and two wall-clock times.
-- Ids are WordPress's post ids (keys agree on both sides). The service's new articles take ids counting down from
-- 2^52 - 1, and wp_posts' AUTO_INCREMENT is set to 2^52 once before the service takes writes (README.md, "Ids"):
-- WordPress's ids then go up from 2^52 and the service's down from below it, and the two never meet.
create table if not exists articles (
  id             bigint primary key,      -- wp_posts.ID
  kind           text not null,           -- post_type: post, page, revision, attachment, nav_menu_item, ...
  state          text not null,           -- post_status: publish, draft, pending, private, future, trash, inherit, auto-draft
  author_id      bigint not null,         -- post_author (WordPress's user id)
  headline       text not null,           -- post_title
  body           text not null,           -- post_content, as stored (raw)
  summary        text not null,           -- post_excerpt ('' when WordPress generates it from the body)
  handle         text not null,           -- post_name (slug; '' for a draft whose slug is not chosen yet)
  secret         text not null default '',-- post_password
  comments_open  boolean not null,        -- comment_status = 'open'
  pings_open     boolean not null,        -- ping_status = 'open'
  permalink_guid text not null,           -- guid
  published_at   timestamptz,             -- post_date_gmt; null while a draft's date floats (WordPress's 0000-00-00)
  published_wall timestamptz not null,    -- post_date: the site's wall clock, stored as if UTC
  edited_at      timestamptz,             -- post_modified_gmt
  edited_wall    timestamptz not null,    -- post_modified: the site's wall clock, stored as if UTC
  revision       integer not null default 0,
  written_by     text not null default 'articles'
);
create index if not exists articles_kind_state_published on articles (kind, state, published_wall desc, id desc);

create sequence if not exists article_ids increment -1 maxvalue 4503599627370495 start 4503599627370495;

create table if not exists outbox (
  id            uuid primary key,
  aggregatetype varchar(255) not null,
  aggregateid   varchar(255) not null,
  type          varchar(255) not null,
  payload       jsonb,
  headers       jsonb not null default '{}',
  created_at    timestamptz not null default now()
);
