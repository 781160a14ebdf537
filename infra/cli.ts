import { parseArgs } from 'node:util';
import { down, mariadbEnvironment, mariadbUp, status, up, ON_REQUEST_SERVICE_NAMES, SERVICE_NAMES, type MariadbStatus, type OnRequestServiceName, type ServiceName, type ServiceStatus } from './index';

const HELP = `Usage: npm run infra -- <up|down|status> [service...] [--help]

Starts, stops or reports the real local services strangler-fig uses.

Commands:
  up       start what is missing (reuses healthy services; respects env vars)
  down     stop only what 'up' started (pid files in .infra/pids)
  status   print each service, its address, health and whether this project started it

Services: ${SERVICE_NAMES.join(', ')} (default: these four)
          redmine (only when named: Debian's Redmine 5.0 for examples/redmine, on http://127.0.0.1:3200;
                   installed with apt-get when missing, database strangler_redmine; 'down' stops it if 'up' started it)
          wordpress (only when named: Debian's WordPress 6.1 for examples/wordpress, on http://127.0.0.1:3300, served
                   by php -S; installed with apt-get when missing, database strangler_wordpress on MariaDB, config
                   /etc/wordpress/config-wordpress.php, application passwords in ~/.cache/strangler-fig/wordpress)
          mariadb (only when named with 'up': the machine's MariaDB, never started or stopped; its binlog is turned on
                   for binlog capture when it is off, writing /etc/mysql/mariadb.conf.d/60-strangler-binlog.cnf and
                   restarting MariaDB; the test setup does the same)

Environment (when set, that service is used as is and nothing is started):
  DATABASE_URL    default postgres://postgres@127.0.0.1:5432/postgres
  KAFKA_BROKERS   default 127.0.0.1:9092
  UNLEASH_URL     default http://127.0.0.1:4242/api
  PROMETHEUS_URL  default http://127.0.0.1:9090
  MYSQL_URL       default mysql://root@127.0.0.1:3306/ (a server named here is only checked)
`;

function printTable(rows: (ServiceStatus | MariadbStatus)[]): void {
  const lines = rows.map((row) => [
    row.name,
    row.address,
    row.healthy ? 'healthy' : 'down',
    row.name === 'postgres' || row.name === 'mariadb' ? 'external (never started)' : row.startedByUs ? 'started by infra' : 'not started by infra',
    row.detail ?? '',
  ]);
  const header = ['service', 'address', 'state', 'owner', 'detail'];
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  for (const line of [header, ...lines]) console.log(line.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(HELP);
    return command || values.help ? 0 : 2;
  }
  const known: readonly string[] = [...SERVICE_NAMES, ...ON_REQUEST_SERVICE_NAMES, 'mariadb'];
  const unknown = rest.filter((name) => !known.includes(name));
  if (unknown.length) {
    console.error(`unknown service(s): ${unknown.join(', ')}; expected one of ${known.join(', ')}`);
    return 2;
  }
  const withMariadb = rest.includes('mariadb');
  const named = rest.filter((name) => name !== 'mariadb');
  const services = named.length ? (named as (ServiceName | OnRequestServiceName)[]) : withMariadb ? [] : undefined;
  const started = Date.now();
  switch (command) {
    case 'up':
      printTable([...(services?.length === 0 ? [] : await up({ services })), ...(withMariadb ? [await mariadbUp(mariadbEnvironment(), (line) => console.error(line))] : [])]);
      console.error(`infra up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return 0;
    case 'down': {
      const stopped = await down({ services });
      console.log(stopped.length ? `stopped ${stopped.join(', ')}` : 'nothing to stop: infra started no service');
      return 0;
    }
    case 'status': {
      const rows = await status();
      printTable(rows);
      return rows.every((row) => row.healthy) ? 0 : 1;
    }
    default:
      console.error(`unknown command '${command}'\n\n${HELP}`);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error & { code?: string }) => {
    console.error(`infra: ${error.code ? `[${error.code}] ` : ''}${error.message}`);
    process.exit(1);
  },
);
