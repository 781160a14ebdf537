/**
 * Starts the post service from the environment:
 *   DATABASE_URL      its own database (default postgresql://postgres@127.0.0.1:5432/strangler_wordpress_posts)
 *   PORT              default 3301
 *   WORDPRESS_URL     WordPress's home URL, for links, guids and Location (default http://127.0.0.1:3300)
 *   WORDPRESS_USERS   who may write: "<login>:<user id>:<application password>", comma-separated (WordPress's own)
 */
import { startPostService } from './posts-service';

const writers = (process.env.WORDPRESS_USERS ?? '')
  .split(',')
  .filter(Boolean)
  .map((entry) => {
    const [login, id, ...password] = entry.split(':');
    return { login: login!, id: Number(id), password: password.join(':') };
  });
startPostService({
  databaseUrl: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/strangler_wordpress_posts',
  port: Number(process.env.PORT ?? 3301),
  siteUrl: process.env.WORDPRESS_URL ?? 'http://127.0.0.1:3300',
  writers,
}).then(
  (service) => {
    console.log(`post service on ${service.url}`);
    const stop = () => void service.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
