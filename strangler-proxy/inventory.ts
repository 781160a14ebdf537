import type { Registry } from 'prom-client';
import { BatchedCounter, type CountSlot } from './batched-metrics';

/** Distinct (route, method, endpoint) series kept; requests beyond land on endpoint `(other)`. */
export const MAX_ENDPOINTS = 500;
/** Raw paths remembered with their endpoint, so a path seen before costs one map lookup. */
const MAX_CACHED_PATHS = 10_000;
const OTHER = '(other)';
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']);

const DIGITS = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]{16,}$/i;
const TOKEN_WITH_DIGIT = /^(?=.*\d)[A-Za-z0-9_-]{12,}$/;

/**
 * A path as a pattern: the query dropped, and each segment that looks like an identifier (digits, a UUID, a long
 * hex string, a long token holding a digit) replaced by `{id}`. `/api/orders/42/lines?x=1` -> `/api/orders/{id}/lines`.
 */
export function endpointPattern(path: string): string {
  const query = path.indexOf('?');
  const bare = query === -1 ? path : path.slice(0, query);
  return bare
    .split('/')
    .map((segment) => (segment && (DIGITS.test(segment) || UUID.test(segment) || HEX.test(segment) || TOKEN_WITH_DIGIT.test(segment)) ? '{id}' : segment))
    .join('/');
}

export interface InventoryEntry {
  route: string;
  method: string;
  endpoint: string;
  requests: number;
  lastSeen: string;
}

interface Tally {
  requests: CountSlot<'route' | 'method' | 'endpoint'>;
  entry: InventoryEntry;
  lastSeenMs: number;
}

/**
 * The legacy endpoint inventory: which legacy endpoints (method and path pattern, per route) still get traffic, as
 * `strangler_proxy_legacy_requests_total` and for the admin API, so a team sees what is left to strangle.
 */
export class LegacyInventory {
  private readonly counter: BatchedCounter<'route' | 'method' | 'endpoint'>;
  private readonly tallies = new Map<string, Tally>();
  private readonly byPath = new Map<string, Tally>();

  constructor(registry: Registry) {
    this.counter = new BatchedCounter({
      name: 'strangler_proxy_legacy_requests_total',
      help: `Requests legacy answered, by route, method and endpoint (path with identifiers as {id}; at most ${MAX_ENDPOINTS} series, then endpoint="${OTHER}")`,
      labelNames: ['route', 'method', 'endpoint'],
      registers: [registry],
    });
  }

  record(route: string, method: string, path: string): void {
    if (!KNOWN_METHODS.has(method)) method = 'OTHER';
    const key = `${route} ${method} ${path}`;
    let tally = this.byPath.get(key);
    if (!tally) {
      tally = this.tallyFor(route, method, endpointPattern(path));
      if (this.byPath.size >= MAX_CACHED_PATHS) this.byPath.clear();
      this.byPath.set(key, tally);
    }
    tally.requests.pending += 1;
    tally.entry.requests += 1;
    tally.lastSeenMs = Date.now();
  }

  /** Every endpoint seen since start, most requested first. */
  entries(): InventoryEntry[] {
    return [...this.tallies.values()]
      .map((tally) => ({ ...tally.entry, lastSeen: new Date(tally.lastSeenMs).toISOString() }))
      .sort((a, b) => b.requests - a.requests || a.endpoint.localeCompare(b.endpoint) || a.route.localeCompare(b.route) || a.method.localeCompare(b.method));
  }

  private tallyFor(route: string, method: string, pattern: string): Tally {
    const endpoint = this.tallies.size < MAX_ENDPOINTS || this.tallies.has(`${route} ${method} ${pattern}`) ? pattern : OTHER;
    const key = `${route} ${method} ${endpoint}`;
    let tally = this.tallies.get(key);
    if (!tally) {
      tally = { requests: this.counter.slot({ route, method, endpoint }), entry: { route, method, endpoint, requests: 0, lastSeen: '' }, lastSeenMs: 0 };
      this.tallies.set(key, tally);
    }
    return tally;
  }
}
