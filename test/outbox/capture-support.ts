import { parseRelayOptions, type CaptureOptionsInput, type RelayOptions, type RelayOptionsInput } from '../../outbox';
import { testEnv, uniqueName, type TestDatabase } from '../helpers';

/** Relay options of mode tables for a test database: a unique name (slot, publication) and topic prefix, short intervals. */
export function captureRelayOptions(
  db: Pick<TestDatabase, 'url'>,
  tables: string[],
  overrides: Omit<Partial<RelayOptionsInput>, 'kafka' | 'capture'> & { capture?: Partial<CaptureOptionsInput> } = {},
): RelayOptions {
  const name = uniqueName('cap').slice(0, 40);
  return parseRelayOptions({
    name,
    mode: 'tables',
    connectionString: db.url,
    heartbeatIntervalMs: 500,
    leadership: { retryIntervalMs: 200 },
    ...overrides,
    capture: { tables, topicPrefix: name.replace(/_/g, '-'), ...overrides.capture },
    kafka: { brokers: testEnv().kafkaBrokers },
  });
}
