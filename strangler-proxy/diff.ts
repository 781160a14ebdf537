import type { ShadowConfig } from './options';

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_DIFFERENCES = 20;

/** Comparison rules of one route, compiled once from its shadow config. */
export interface CompareRules {
  ignore: string[][];
  timestamps: boolean;
  uuids: boolean;
  arrayOrder: boolean;
  versionPaths: string[][];
  recheckMs: number;
}

const splitPath = (path: string) => path.replace(/^\$\.?/, '').replace(/\[(\*|\d+)\]/g, '.$1').split('.').filter(Boolean);

export function compileCompareRules(shadow: ShadowConfig): CompareRules {
  return {
    ignore: shadow.ignorePaths.map(splitPath),
    timestamps: shadow.normalise.timestamps,
    uuids: shadow.normalise.uuids,
    arrayOrder: shadow.normalise.arrayOrder,
    versionPaths: shadow.lag.versionPaths.map(splitPath),
    recheckMs: shadow.lag.recheckMs,
  };
}

/** Every value at `path` (`*` = any key or index), with its concrete path. */
function valuesAt(value: unknown, path: string[], at: string, out: Map<string, unknown>): void {
  if (path.length === 0) {
    out.set(at, value);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const [head, ...rest] = path;
  const keys = head === '*' ? Object.keys(value) : [head!];
  for (const key of keys) if (key in value) valuesAt((value as Record<string, unknown>)[key], rest, `${at}.${key}`, out);
}

const asVersion = (value: unknown) => (typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined);

/**
 * Whether two JSON answers hold different versions of the same data at one of the rules' version paths: one side
 * has not applied a change the other has (replication lag), in either direction.
 */
export function versionsDiffer(primary: Buffer, shadow: Buffer, rules: CompareRules): boolean {
  if (rules.versionPaths.length === 0) return false;
  const left = parseJson(primary);
  const right = parseJson(shadow);
  if (!left.ok || !right.ok) return false;
  for (const path of rules.versionPaths) {
    const ours = new Map<string, unknown>();
    const theirs = new Map<string, unknown>();
    valuesAt(left.value, path, '$', ours);
    valuesAt(right.value, path, '$', theirs);
    for (const [at, value] of ours) {
      const a = asVersion(value);
      const b = asVersion(theirs.get(at));
      if (a !== undefined && b !== undefined && a !== b) return true;
    }
  }
  return false;
}

function withoutIgnored(value: unknown, paths: string[][]): unknown {
  if (paths.length === 0 || value === null || typeof value !== 'object') return value;
  const clone: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  const keys = Array.isArray(clone) ? clone.map((_, index) => String(index)) : Object.keys(clone);
  for (const key of keys) {
    const matching = paths.filter((path) => path[0] === '*' || path[0] === key);
    if (matching.length === 0) continue;
    if (matching.some((path) => path.length === 1)) {
      if (Array.isArray(clone)) clone[Number(key)] = undefined;
      else delete clone[key];
      continue;
    }
    const rest = matching.map((path) => path.slice(1));
    const target = clone as Record<string, unknown>;
    target[key] = withoutIgnored(target[key], rest);
  }
  return clone;
}

function canonical(value: unknown, rules: CompareRules): unknown {
  if (typeof value === 'string') {
    if (rules.timestamps && ISO_TIMESTAMP.test(value)) return '<timestamp>';
    if (rules.uuids && UUID.test(value)) return '<uuid>';
    return value;
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => canonical(item, rules));
    return rules.arrayOrder ? items.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) : items;
  }
  if (value && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) sorted[key] = canonical(item, rules);
    }
    return sorted;
  }
  return value;
}

function collectDifferences(a: unknown, b: unknown, at: string, out: string[]): void {
  if (out.length >= MAX_DIFFERENCES) return;
  if (a === b) return;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) collectDifferences((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${at}.${key}`, out);
    return;
  }
  out.push(at);
}

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

export interface ComparedSide {
  status: number;
  body: Buffer;
}

/** Compares status and body: JSON bodies after ignore paths and normalisers, other bodies byte for byte. */
export function compareResponses(primary: ComparedSide, shadow: ComparedSide, rules: CompareRules): { match: boolean; differences: string[] } {
  const differences: string[] = [];
  if (primary.status !== shadow.status) differences.push('status');
  const left = parseJson(primary.body);
  const right = parseJson(shadow.body);
  if (left.ok && right.ok) {
    collectDifferences(canonical(withoutIgnored(left.value, rules.ignore), rules), canonical(withoutIgnored(right.value, rules.ignore), rules), '$', differences);
  } else if (!primary.body.equals(shadow.body)) {
    differences.push('body');
  }
  return { match: differences.length === 0, differences };
}
