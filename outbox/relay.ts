import { BinlogCaptureRelay, isMysqlUrl } from './capture/binlog-relay';
import { TableCaptureRelay } from './capture/relay';
import { CdcRelay } from './cdc-relay';
import type { RelayDeps } from './leadership';
import { parseRelayOptions, type RelayOptions } from './options';
import { PollingRelay } from './polling-relay';

/** Any relay createRelay builds: they share start(), stop(), done, isLeader and the leader/standby/fatal events. */
export type Relay = CdcRelay | PollingRelay | TableCaptureRelay | BinlogCaptureRelay;

/**
 * Builds the relay for `options.mode` (default cdc); options are parsed here if they are raw input. Mode tables
 * with a `mysql://` (or `mariadb://`) connection string captures that server's binlog (BinlogCaptureRelay).
 */
export function createRelay(options: RelayOptions | unknown, deps: RelayDeps): Relay {
  const parsed = parseRelayOptions(options);
  if (parsed.mode === 'tables') return isMysqlUrl(parsed.connectionString) ? new BinlogCaptureRelay(parsed, deps) : new TableCaptureRelay(parsed, deps);
  return parsed.mode === 'polling' ? new PollingRelay(parsed, deps) : new CdcRelay(parsed, deps);
}
