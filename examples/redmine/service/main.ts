/**
 * Starts the issue service from the environment:
 *   DATABASE_URL      its own database (default postgresql://postgres@127.0.0.1:5432/strangler_redmine_issues)
 *   PORT              default 3201
 *   REDMINE_API_KEY   the admin's key (the same as Redmine's: the proxy forwards it to either side)
 *   REDMINE_PROJECT   "<id>:<identifier>:<name>", default "1:strangler:Strangler"
 *   PUBLIC_URL        base of the Location header (the proxy's URL), default the request's Host
 */
import { startIssueService } from './issues-service';

const [projectId, identifier, name] = (process.env.REDMINE_PROJECT ?? '1:strangler:Strangler').split(':');
startIssueService({
  databaseUrl: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/strangler_redmine_issues',
  port: Number(process.env.PORT ?? 3201),
  project: { id: Number(projectId), identifier: identifier!, name: name! },
  people: process.env.REDMINE_API_KEY ? [{ id: 1, login: 'admin', name: 'Redmine Admin', apiKey: process.env.REDMINE_API_KEY }] : [],
  publicUrl: process.env.PUBLIC_URL,
}).then(
  (service) => {
    console.log(`issue service on ${service.url}`);
    const stop = () => void service.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
