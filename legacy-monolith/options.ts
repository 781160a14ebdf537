import { z } from 'zod';
import { appOptionsShape, baseUrl, ConfigError, parseOptions } from '../service-kit';

/** The monolith's options: a process's, plus which extracted services own which aggregates' writes. */
export const monolithOptionsSchema = z.strictObject({
  ...appOptionsShape,
  port: appOptionsShape.port.default(3000),
  /**
   * Aggregate -> base URL of the service that owns its writes (for example `{ product: 'http://catalog:3102' }`).
   * The monolith then sends those writes to the owner and keeps its own rows as a replica fed by sync.
   * Empty (the default): the monolith writes everything itself, as before any extraction.
   */
  owners: z.strictObject({ user: baseUrl, product: baseUrl, order: baseUrl, payment: baseUrl }).partial().default({}),
  /** How long a delegated write waits for its replica here before answering anyway (read-your-writes bound). */
  replicaWaitMs: z.number().int().nonnegative().default(5_000),
  ownerTimeoutMs: z.number().int().positive().default(5_000),
  ownerAttempts: z.number().int().positive().default(3),
});
export type MonolithOptions = z.output<typeof monolithOptionsSchema>;
export type MonolithOptionsInput = z.input<typeof monolithOptionsSchema>;

export function parseMonolithOptions(input: unknown): MonolithOptions {
  const options = parseOptions(monolithOptionsSchema, input);
  // An order is placed in one local transaction that reserves stock and charges the card: that needs both here.
  if (!options.owners.order && (options.owners.product || options.owners.payment)) {
    throw new ConfigError([{ field: 'owners.order', message: 'must be delegated too while products or payments are (placing an order writes all three in one transaction)' }]);
  }
  return options;
}
