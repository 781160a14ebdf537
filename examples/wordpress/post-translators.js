// The post aggregate's service -> WordPress translation (toService stays the mapping's rules). WordPress keeps a
// draft's floating date as the zero date in NOT NULL datetime columns: the service's null goes back as that.
const ZERO_DATE = '0000-00-00 00:00:00';

exports.toLegacy = (article) => ({
  ID: article.id,
  post_type: article.kind,
  post_status: article.state,
  post_author: article.authorId,
  post_title: article.headline,
  post_content: article.body,
  post_excerpt: article.summary,
  post_name: article.handle,
  post_password: article.secret,
  comment_status: article.commentsOpen ? 'open' : 'closed',
  ping_status: article.pingsOpen ? 'open' : 'closed',
  guid: article.permalinkGuid,
  post_date: article.publishedWall,
  post_date_gmt: article.publishedAt ?? ZERO_DATE,
  post_modified: article.editedWall,
  post_modified_gmt: article.editedAt ?? ZERO_DATE,
  to_ping: '',
  pinged: '',
  post_content_filtered: '',
});
