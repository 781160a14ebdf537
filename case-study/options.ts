import { z } from 'zod';
import { resolveEnvironment } from '../infra';
import { ConfigError, DEMO_JWT_SECRET, issuesToProblems } from '../service-kit';

const port = z.number().int().min(0).max(65535);

/** Everything the whole case study needs; the defaults are the demo (`npm start`), tests override names and ports. */
export function stackOptionsSchema(env: NodeJS.ProcessEnv = process.env) {
  const infra = resolveEnvironment(env);
  return z.object({
    host: z.string().default('127.0.0.1'),
    /** Postgres server (any database on it); the stack's databases are `<databasePrefix>_legacy`, `_users`, ... */
    databaseUrl: z.string().default(infra.databaseUrl),
    databasePrefix: z.string().regex(/^[a-z][a-z0-9_]{0,40}$/).default('strangler'),
    kafkaBrokers: z.array(z.string().min(1)).min(1).default(infra.kafkaBrokers),
    /** Topics are `<topicPrefix><aggregatetype>`; every side publishes to and reads from the same topics. */
    topicPrefix: z.string().regex(/^[a-zA-Z0-9._-]*$/).default('outbox.event.'),
    /** Prefix of relay names (and so of replication slots) and of consumer groups; unique per stack. */
    instanceName: z.string().regex(/^[a-z0-9_]{1,24}$/).default('shop'),
    ports: z
      .object({
        proxy: port.default(8080),
        admin: port.default(8090),
        legacy: port.default(3000),
        users: port.default(3101),
        catalog: port.default(3102),
        payments: port.default(3103),
        orders: port.default(3104),
      })
      .prefault({}),
    adminToken: z.string().min(8).default('strangler-admin-token'),
    jwtSecret: z.string().min(16).default(env.JWT_SECRET || DEMO_JWT_SECRET),
    unleash: z
      .object({
        url: z.string().default(infra.unleashUrl),
        adminToken: z.string().default(infra.unleashAdminToken),
        clientToken: z.string().default(infra.unleashClientToken),
        /** How fast the proxy sees a flip. */
        refreshIntervalMs: z.number().int().positive().default(1_000),
        /** Where the proxy keeps its last known flags. */
        backupDir: z.string().min(1).default('.infra/demo/unleash-backup'),
      })
      .prefault({}),
    /** Flags are `<flagPrefix>-<route>` (route on/off) and `<flagPrefix>-<route>-shadow`. */
    flagPrefix: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/).default('shop'),
    /** Seed a demo user and products into an empty legacy database. */
    seed: z.boolean().default(true),
    /**
     * `cdc` (default) holds one replication slot per database: 5 of Postgres' max_replication_slots (10 by
     * default). `polling` needs none, at the cost of a poll interval of latency.
     */
    relayMode: z.enum(['cdc', 'polling']).default('cdc'),
    /** Relay heartbeat and consumer retry pacing; tests shorten them. */
    relayHeartbeatMs: z.number().int().positive().default(2_000),
    stopTimeoutMs: z.number().int().positive().default(10_000),
    /** Run verify for every aggregate this often and export strangler_sync_drift_rows on the monolith's /metrics; 0 = off. */
    driftCheckIntervalMs: z.number().int().nonnegative().default(30_000),
    /** The proxy's read-your-writes (`consistency`): a shopper's requests wait for the shopper's writes to reach the side serving them. */
    readYourWrites: z.boolean().default(true),
  });
}

export type StackOptions = z.output<ReturnType<typeof stackOptionsSchema>>;
export type StackOptionsInput = z.input<ReturnType<typeof stackOptionsSchema>>;

export function parseStackOptions(input: unknown, env: NodeJS.ProcessEnv = process.env): StackOptions {
  const result = stackOptionsSchema(env).safeParse(input);
  if (!result.success) throw new ConfigError(issuesToProblems(result.error.issues));
  return result.data;
}
