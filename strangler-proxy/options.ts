import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigInvalidError, ConfigUnreadableError, type ConfigIssue } from './errors';
import { parsePathTemplate, templateCovers, type PathTemplate } from './template';

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().int().positive();
const HTTP_METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

const endpointUrl = z.url({ protocol: /^https?$/ });

const clusterSchema = z
  .strictObject({
    /** One endpoint; or `endpoints` for several instances of the service (one of the two). */
    url: endpointUrl.optional(),
    endpoints: z.array(endpointUrl).min(1).optional(),
    /** How a request picks among the endpoints that are healthy and not ejected. */
    loadBalancing: z.enum(['round-robin', 'least-outstanding']).default('round-robin'),
    /**
     * Passive health (Envoy's outlier detection): an endpoint failing `consecutiveFailures` requests in a row
     * (connect error, timeout, 5xx) is ejected for `baseEjectionMs` times the ejections it has had, never more than
     * `maxEjectionPercent` of the endpoints at once (at least one always stays).
     */
    outlierDetection: z
      .strictObject({
        consecutiveFailures: z.number().int().positive().default(5),
        baseEjectionMs: positiveMs.default(30_000),
        maxEjectionMs: positiveMs.default(300_000),
        maxEjectionPercent: z.number().int().min(0).max(100).default(50),
      })
      .prefault({}),
    connectTimeoutMs: positiveMs.default(1_000),
    responseTimeoutMs: positiveMs.default(30_000),
    /** Keep-alive pool: the most sockets open to each endpoint at once. */
    maxSockets: z.number().int().positive().default(256),
    healthPath: z.string().startsWith('/').default('/healthz'),
    healthIntervalMs: positiveMs.default(5_000),
    /** Send the client's Host header upstream instead of the endpoint's host. */
    preserveHost: z.boolean().default(false),
    circuit: z
      .strictObject({
        /** Consecutive failures (connect error, timeout, 5xx) that open the circuit. */
        failureThreshold: z.number().int().positive().default(5),
        /** How long the circuit stays open before one probe request is let through. */
        openMs: positiveMs.default(10_000),
      })
      .prefault({}),
  })
  .superRefine((cluster, context) => {
    if ((cluster.url === undefined) === (cluster.endpoints === undefined)) {
      context.addIssue({ code: 'custom', message: 'give either url (one endpoint) or endpoints: [url, url, ...]', path: cluster.url === undefined ? ['url'] : ['endpoints'] });
    }
    const seen = new Set<string>();
    for (const [index, url] of (cluster.endpoints ?? []).entries()) {
      const key = new URL(url).href;
      if (seen.has(key)) context.addIssue({ code: 'custom', message: `${url} is listed twice`, path: ['endpoints', index] });
      seen.add(key);
    }
  })
  // `url` stays, as the first endpoint, for code that names a cluster by one address.
  .transform(({ url, endpoints, ...rest }) => ({ ...rest, url: endpoints?.[0] ?? url!, endpoints: endpoints ?? [url!] }));

const shadowSchema = z.strictObject({
  /** Shadow every request of the route; or set `flag` to shadow while that flag is on. */
  enabled: z.boolean().default(false),
  flag: z.string().min(1).optional(),
  /** Also shadow non-safe methods; the copy carries `X-Shadow: 1`. */
  allowWrites: z.boolean().default(false),
  timeoutMs: positiveMs.default(5_000),
  /** Larger request or response bodies are not compared (result `dropped`). */
  maxBodyBytes: z.number().int().positive().default(1_048_576),
  /** JSON paths left out of the comparison: `a.b`, `items.*.updatedAt` (`*` = any key or index). */
  ignorePaths: z.array(z.string().min(1)).default([]),
  normalise: z
    .strictObject({
      timestamps: z.boolean().default(true),
      uuids: z.boolean().default(true),
      arrayOrder: z.boolean().default(false),
    })
    .prefault({}),
  /**
   * Differences replication lag explains are counted as `lag`, not `mismatch`: the two answers hold different
   * versions at one of `versionPaths` (same syntax as ignorePaths), or, after `recheckMs`, both sides asked again
   * agree (a safe request only; 0 = no recheck).
   */
  lag: z
    .strictObject({
      versionPaths: z.array(z.string().min(1)).default(['version', '*.version']),
      recheckMs: z.number().int().min(0).max(60_000).default(500),
    })
    .prefault({}),
});

const routeSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, _ . -').refine((id) => id !== 'unmatched', 'is reserved'),
  order: z.number().int(),
  match: z.strictObject({
    path: z.string(),
    /** Upper-case HTTP methods; absent = every method. */
    methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
    /** Exact header values the request must carry (names are case-insensitive). */
    headers: z.record(z.string(), z.string()).optional(),
  }),
  cluster: z.string().min(1),
  /** Unleash flag: on = `cluster` answers, off = legacy. Absent = always `cluster`. */
  flag: z.string().min(1).optional(),
  /** `user`: userId, then the session cookie; `session`: the session cookie only. */
  stickiness: z.enum(['user', 'session']).default('user'),
  /** `safe-methods`: GET/HEAD/OPTIONS fall back to legacy on connect error, timeout or 5xx. */
  fallback: z.enum(['safe-methods', 'never']).default('safe-methods'),
  maxBodyBytes: z.number().int().positive().default(10_485_760),
  shadow: shadowSchema.optional(),
});

/** Unleash's own default address; the client token has no default (UNLEASH_CLIENT_TOKEN or the file). */
export const DEFAULT_UNLEASH_URL = 'http://127.0.0.1:4242/api';

function flagsSchema(env: NodeJS.ProcessEnv) {
  return z
    .strictObject({
      provider: z.enum(['unleash', 'file']).default('unleash'),
      unleash: z
        .strictObject({
          url: z.url().default(env.UNLEASH_URL || DEFAULT_UNLEASH_URL),
          /** Empty means not given: required for the `unleash` provider (checked below). */
          clientToken: z.string().default(env.UNLEASH_CLIENT_TOKEN ?? ''),
          appName: z.string().min(1).default('strangler-proxy'),
          refreshIntervalMs: positiveMs.default(5_000),
          /** Limit of one fetch, also the longest back-off between its retries. */
          requestTimeoutMs: positiveMs.default(10_000),
          /** Unleash client-features JSON loaded at start (`bootstrapOverride: false`: a backup wins). */
          bootstrapFile: z.string().min(1).optional(),
          /** Persistent directory for the last known flags (relative to the config file). */
          backupDir: z.string().min(1).default('.strangler/unleash-backup'),
          sendMetrics: z.boolean().default(true),
        })
        .prefault({}),
      file: z
        .strictObject({
          path: z.string().min(1).default('flags.yaml'),
          pollIntervalMs: positiveMs.default(1_000),
        })
        .prefault({}),
    })
    .superRefine((flags, context) => {
      if (flags.provider === 'unleash' && !flags.unleash.clientToken) {
        context.addIssue({ code: 'custom', path: ['unleash', 'clientToken'], message: 'required with the unleash provider: set it here or in UNLEASH_CLIENT_TOKEN' });
      }
    })
    .prefault({});
}

function configSchema(env: NodeJS.ProcessEnv) {
  return z.strictObject({
    proxy: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: port.default(8080),
        /** Processes serving traffic: one (this process), a number, or `auto` (one per core); see `workerCount`. */
        workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
      })
      .prefault({}),
    admin: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: port.default(8090),
        token: z.string().min(8, 'must be at least 8 characters'),
      }),
    /**
     * A second, read-only listener without the token: /healthz, /readyz and /metrics for kubelet probes and
     * Prometheus scrapes. Absent: no such listener, and those endpoints are on the admin listener only.
     */
    probes: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: port.default(8091),
        /** Also serve /metrics here (the route and cluster names it carries are then readable without the token). */
        metrics: z.boolean().default(true),
      })
      .optional(),
    paths: z
      .strictObject({
        rejectEncodedSlash: z.boolean().default(true),
        rejectInvalidEncoding: z.boolean().default(true),
        /** Reject `;` (raw or %3B) in the path: Tomcat and others read `/a/..;/b` as `/b`, behind the route's back. */
        rejectPathParameters: z.boolean().default(true),
      })
      .prefault({}),
    context: z
      .strictObject({
        userIdHeader: z.string().min(1).toLowerCase().default('x-user-id'),
        /** Take userId from the `sub` of a Bearer JWT (not verified: used for bucketing only). */
        jwtSubject: z.boolean().default(true),
        sessionCookie: z.string().regex(/^[A-Za-z0-9_-]+$/).default('sfg_sid'),
        sessionCookieMaxAgeSeconds: z.number().int().positive().default(31_536_000),
        sessionCookieSecure: z.boolean().default(false),
        /**
         * Pass the client's X-Forwarded-Host and X-Forwarded-Proto upstream as they are. Only behind a load balancer
         * that sets them itself: by default the proxy sets both from the request it received.
         */
        trustForwardedHeaders: z.boolean().default(false),
      })
      .prefault({}),
    flags: flagsSchema(env),
    consistency: z
      .strictObject({
        /**
         * Read-your-writes across sides: after a write answered with the `header` entries (the events it wrote), that
         * user's requests to another cluster wait until that cluster has applied them, for at most `waitMs`.
         */
        enabled: z.boolean().default(false),
        header: z.string().regex(/^[a-z0-9-]+$/, 'a lower-case header name').default('strangler-written'),
        /** Where every cluster answers whether it has applied events (GET, `?events=...&waitMs=...`). */
        appliedPath: z.string().startsWith('/').default('/_strangler/applied'),
        /** The longest a request waits; past it, it goes on to its cluster, which may not show the write yet. */
        waitMs: positiveMs.max(10_000).default(1_000),
        /** How long after a write its events are still waited for (well beyond the slowest sync). */
        windowMs: positiveMs.default(30_000),
        /** Users (or sessions) with writes in their window, at most; the oldest are forgotten first. */
        maxTracked: z.number().int().positive().default(100_000),
        /** Events remembered per user, at most; the oldest are forgotten first. */
        maxEventsPerUser: z.number().int().positive().max(64).default(32),
      })
      .prefault({}),
    shadow: z
      .strictObject({
        queueSize: z.number().int().positive().default(256),
        concurrency: z.number().int().positive().default(4),
        keepMismatches: z.number().int().positive().default(50),
        /**
         * Real mismatches are also appended to this JSON-lines file (relative to the config file), which survives
         * restarts; past `maxBytes` it is renamed to `<path>.1` (one older file kept) and a new one started.
         */
        mismatchLog: z
          .strictObject({
            path: z.string().min(1),
            maxBytes: z.number().int().min(1_024).default(10_485_760),
          })
          .optional(),
      })
      .prefault({}),
    reload: z.strictObject({ watchFile: z.boolean().default(true), pollIntervalMs: positiveMs.default(1_000) }).prefault({}),
    clusters: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), clusterSchema),
    routes: z.array(routeSchema).default([]),
  });
}

export type ProxyConfig = z.infer<ReturnType<typeof configSchema>>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type ShadowConfig = z.infer<typeof shadowSchema>;
export type FlagsConfig = ProxyConfig['flags'];
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
export const LEGACY = 'legacy';

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_PLACEHOLDER = /^\$\{[^}]+\}$/;

/** Replaces `${NAME}` and `${NAME:-default}` in every string; a value that is exactly one placeholder may become a number or boolean. */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, at: string, issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    const result = value.replace(PLACEHOLDER, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      issues.push({ path: at, message: `environment variable ${name} is not set` });
      return '';
    });
    if (WHOLE_PLACEHOLDER.test(value)) {
      if (/^-?\d+(\.\d+)?$/.test(result)) return Number(result);
      if (result === 'true' || result === 'false') return result === 'true';
    }
    return result;
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolate(item, env, join(at, index), issues));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, env, join(at, key), issues)]));
  }
  return value;
}

function join(at: string, key: string | number): string {
  return at ? `${at}.${key}` : String(key);
}

type LooseRoute = { id?: unknown; order?: unknown; cluster?: unknown; flag?: unknown; match?: { path?: unknown; methods?: unknown; headers?: unknown }; shadow?: unknown };

/** Checks between keys: clusters exist, ids and orders are unique, no route is hidden by an earlier one. */
function crossCheck(input: { clusters?: unknown; routes?: unknown }, issues: ConfigIssue[]): void {
  const clusters = input.clusters && typeof input.clusters === 'object' ? (input.clusters as Record<string, unknown>) : undefined;
  if (clusters && !(LEGACY in clusters)) issues.push({ path: 'clusters', message: `a '${LEGACY}' cluster is required (it answers unmatched requests)` });
  if (!Array.isArray(input.routes)) return;
  const routes = input.routes as LooseRoute[];
  const ids = new Map<string, number>();
  const orders = new Map<number, number>();
  const compiled: Array<{ index: number; order: number; template: PathTemplate; methods?: string[]; headers: Record<string, string> } | undefined> = [];
  routes.forEach((route, index) => {
    if (!route || typeof route !== 'object') return;
    const at = `routes.${index}`;
    if (typeof route.id === 'string') {
      const first = ids.get(route.id);
      if (first !== undefined) issues.push({ path: `${at}.id`, message: `duplicate route id '${route.id}' (also routes.${first})` });
      else ids.set(route.id, index);
    }
    if (typeof route.order === 'number') {
      const first = orders.get(route.order);
      if (first !== undefined) issues.push({ path: `${at}.order`, message: `duplicate order ${route.order} (also routes.${first}); order must be explicit and unique` });
      else orders.set(route.order, index);
    }
    if (typeof route.cluster === 'string' && clusters && !(route.cluster in clusters)) {
      issues.push({ path: `${at}.cluster`, message: `unknown cluster '${route.cluster}' (known: ${Object.keys(clusters).join(', ')})` });
    }
    if (route.cluster === LEGACY && route.flag !== undefined) issues.push({ path: `${at}.flag`, message: `a route to '${LEGACY}' has no other side to flag` });
    if (route.cluster === LEGACY && route.shadow !== undefined) issues.push({ path: `${at}.shadow`, message: `a route to '${LEGACY}' has no other side to shadow` });
    if (typeof route.match?.path !== 'string') return;
    try {
      const template = parsePathTemplate(route.match.path);
      const methods = Array.isArray(route.match.methods) ? (route.match.methods as string[]) : undefined;
      const headers = route.match.headers && typeof route.match.headers === 'object' ? lowerKeys(route.match.headers as Record<string, string>) : {};
      if (typeof route.order === 'number') compiled[index] = { index, order: route.order, template, methods, headers };
    } catch (error) {
      issues.push({ path: `${at}.match.path`, message: `invalid path template: ${(error as Error).message}` });
    }
  });
  const sorted = compiled.filter((entry) => entry !== undefined).sort((a, b) => a.order - b.order);
  sorted.forEach((later, position) => {
    const hiding = sorted.slice(0, position).find((earlier) => routeCovers(earlier, later));
    if (hiding) {
      issues.push({
        path: `routes.${later.index}.match`,
        message: `unreachable: routes.${hiding.index} (order ${hiding.order}, '${hiding.template.source}') matches every request this route matches`,
      });
    }
  });
}

function routeCovers(
  earlier: { template: PathTemplate; methods?: string[]; headers: Record<string, string> },
  later: { template: PathTemplate; methods?: string[]; headers: Record<string, string> },
): boolean {
  const methodsCovered = !earlier.methods || (later.methods !== undefined && later.methods.every((method) => earlier.methods!.includes(method)));
  const headersCovered = Object.entries(earlier.headers).every(([name, value]) => later.headers[name] === value);
  return methodsCovered && headersCovered && templateCovers(earlier.template, later.template);
}

export function lowerKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key.toLowerCase(), value]));
}

/** Validates a configuration object (after `${ENV}` interpolation); throws ConfigInvalidError listing every problem. */
export function parseProxyConfig(input: unknown, env: NodeJS.ProcessEnv = process.env, source?: string): ProxyConfig {
  const issues: ConfigIssue[] = [];
  const interpolated = interpolate(input, env, '', issues);
  const result = configSchema(env).safeParse(interpolated);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') for (const key of issue.keys) issues.push({ path: [...issue.path, key].map(String).join('.'), message: 'unknown key' });
      else issues.push({ path: issue.path.map(String).join('.'), message: issue.message });
    }
  }
  if (interpolated && typeof interpolated === 'object') crossCheck(interpolated as { clusters?: unknown; routes?: unknown }, issues);
  if (issues.length > 0 || !result.success) throw new ConfigInvalidError(issues, source);
  return result.data;
}

/**
 * Reads a YAML file and parses it. Relative file paths inside (bootstrap, backup dir, flag file) are resolved
 * against the file's directory.
 */
export function loadProxyConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ProxyConfig {
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigUnreadableError(file, error);
  }
  const config = parseProxyConfig(raw, env, file);
  const base = path.dirname(path.resolve(file));
  const { unleash, file: flagFile } = config.flags;
  unleash.backupDir = path.resolve(base, unleash.backupDir);
  if (unleash.bootstrapFile) unleash.bootstrapFile = path.resolve(base, unleash.bootstrapFile);
  flagFile.path = path.resolve(base, flagFile.path);
  if (config.shadow.mismatchLog) config.shadow.mismatchLog.path = path.resolve(base, config.shadow.mismatchLog.path);
  return config;
}

/**
 * What `ConfigState.digest` shows: sha256 (first 12 hex digits) of the configuration without the listeners' addresses
 * and the admin token, so replicas that run one file (with their own ports) show the same digest.
 */
export function configDigest(config: ProxyConfig): string {
  const { proxy: _proxy, admin: _admin, probes, ...routing } = config;
  return createHash('sha256')
    .update(JSON.stringify({ ...routing, probesServeMetrics: probes?.metrics }))
    .digest('hex')
    .slice(0, 12);
}

/** How many processes `proxy.workers` asks for: `auto` is one per core (`os.availableParallelism()`). */
export function workerCount(workers: ProxyConfig['proxy']['workers'], cores: number = os.availableParallelism()): number {
  return workers === 'auto' ? Math.max(1, cores) : workers;
}
