import { StranglerError, type ErrorCatalogue, type ErrorCatalogueOf } from '../errors';

const CODES = {
  SFG_INFRA_MISSING_TOOL: { means: 'A tool the service needs (java, maven, prometheus, a Debian package) is not installed and cannot be installed here.', fix: 'Install what the message names, or point the variable it names (KAFKA_BROKERS, DATABASE_URL, …) at a running service.' },
  SFG_INFRA_FETCH_FAILED: { means: 'Downloading a service\'s jars (mvn dependency:copy-dependencies) failed.', fix: 'Check the network and the Maven repository access, then run infra up again.' },
  SFG_INFRA_START_FAILED: { means: 'A local service did not start (spawn failed, exited during start-up, setup step failed, or its port is someone else\'s).', fix: 'Read the message and the log it names; free the port or start the service yourself.' },
  SFG_INFRA_START_TIMEOUT: { means: 'A local service did not become ready in time (or another process still holds its lock).', fix: 'Read its log; retriable once the other process is gone.' },
  SFG_INFRA_POSTGRES_CONFIG: { means: 'Postgres runs without a setting the framework needs (for example wal_level = logical).', fix: 'Apply the settings the message gives and restart Postgres.' },
  SFG_INFRA_MYSQL_CONFIG: { means: 'MariaDB/MySQL runs without the binlog settings capture needs, or could not be restarted with them.', fix: 'Apply the settings the message gives in the server\'s configuration and restart it.' },
} as const satisfies ErrorCatalogue;

/** One of the codes of INFRA_ERROR_CODES (listed in docs/errors.md); a throw with another code fails the typecheck. */
export type InfraErrorCode = keyof typeof CODES;

/** Every infra error code (the local services the demo and the tests start): what it means and what to do. */
export const INFRA_ERROR_CODES: ErrorCatalogueOf<InfraErrorCode> = CODES;

export class InfraError extends StranglerError<InfraErrorCode> {
  declare readonly code: InfraErrorCode;

  constructor(code: InfraErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
  }
}
