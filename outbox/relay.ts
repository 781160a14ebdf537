import { TableCaptureRelay } from './capture/relay';
import { CdcRelay } from './cdc-relay';
import type { RelayDeps } from './leadership';
import { parseRelayOptions, type RelayOptions } from './options';
import { PollingRelay } from './polling-relay';

/** Builds the relay for `options.mode` (default cdc); options are parsed here if they are raw input. */
export function createRelay(options: RelayOptions | unknown, deps: RelayDeps): CdcRelay | PollingRelay | TableCaptureRelay {
  const parsed = parseRelayOptions(options);
  if (parsed.mode === 'tables') return new TableCaptureRelay(parsed, deps);
  return parsed.mode === 'polling' ? new PollingRelay(parsed, deps) : new CdcRelay(parsed, deps);
}
