/**
 * Record-by-record comparison of two captures of the same changes: real Debezium's and ours. Used by
 * debezium-compat.int.test.ts; its own unit test shows that it fails on any difference it is not told to allow.
 */

/** A JSON value parsed without loss: integers are bigint (Debezium writes int64 exactly), other numbers are doubles. */
export type Exact = null | boolean | string | number | bigint | Exact[] | { [key: string]: Exact };

/** JSON.parse, except that integer literals become bigint (9007199254740993 stays itself) and key order is kept. */
export function parseExact(text: string): Exact {
  let at = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`parseExact: ${what} at ${at} in ${text.slice(Math.max(0, at - 20), at + 20)}`);
  };
  const space = () => {
    while (at < text.length && ' \t\n\r'.includes(text[at]!)) at += 1;
  };
  const value = (): Exact => {
    space();
    const char = text[at];
    if (char === '{') {
      at += 1;
      const object: { [key: string]: Exact } = {};
      space();
      if (text[at] === '}') {
        at += 1;
        return object;
      }
      for (;;) {
        space();
        const key = value();
        if (typeof key !== 'string') fail('object key');
        space();
        if (text[at] !== ':') fail('colon');
        at += 1;
        object[key as string] = value();
        space();
        if (text[at] === ',') {
          at += 1;
          continue;
        }
        if (text[at] === '}') {
          at += 1;
          return object;
        }
        fail('object');
      }
    }
    if (char === '[') {
      at += 1;
      const array: Exact[] = [];
      space();
      if (text[at] === ']') {
        at += 1;
        return array;
      }
      for (;;) {
        array.push(value());
        space();
        if (text[at] === ',') {
          at += 1;
          continue;
        }
        if (text[at] === ']') {
          at += 1;
          return array;
        }
        fail('array');
      }
    }
    if (char === '"') {
      const start = at;
      at += 1;
      while (at < text.length && text[at] !== '"') at += text[at] === '\\' ? 2 : 1;
      at += 1;
      return JSON.parse(text.slice(start, at)) as string;
    }
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(at, at + 400));
    if (!literal) return fail('value');
    at += literal[0].length;
    if (literal[0] === 'true') return true;
    if (literal[0] === 'false') return false;
    if (literal[0] === 'null') return null;
    return literal[1] === undefined && literal[2] === undefined ? BigInt(literal[0]) : Number(literal[0]);
  };
  const result = value();
  space();
  if (at !== text.length) fail('trailing text');
  return result;
}

export interface CapturedRecord {
  topic: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

export interface CompareOptions {
  /** Debezium's topic.prefix and ours: topics and source.name differ by them only. */
  debeziumPrefix: string;
  oursPrefix: string;
  /**
   * Paths (dot-separated, from the value's root) whose values may differ; each must still be present on both sides
   * with the same JSON type. The envelope's ts_ms/ts_us/ts_ns (processing time) are always allowed.
   */
  allowedValuePaths?: string[];
  /** Headers that only Debezium sends and we do not (documented): e.g. `__debezium.context.` as a prefix. */
  debeziumOnlyHeaderPrefixes?: string[];
  /** Headers that only we send (the design's `origin`, `id`, `txid`, `lsn`, `commit_lsn`). */
  oursOnlyHeaders?: string[];
  /**
   * source.sequence is `["<last commit LSN>","<LSN>"]`. On its first transaction after its first start Debezium has
   * seen no commit and writes null first; ours names the slot's confirmed position. When set, that first element may
   * differ where Debezium's is null (the second must still be equal).
   */
  debeziumLastCommitMayBeNull?: boolean;
}

/** Processing times, and the prefix (checked apart: each side's own). */
const ALWAYS_ALLOWED = ['ts_ms', 'ts_us', 'ts_ns', 'source.name'];

function typeOf(value: Exact): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'bigint') return 'number';
  return typeof value;
}

function show(value: Exact | undefined): string {
  if (value === undefined) return '(absent)';
  // Integers print as their digits, as in the record.
  const text = JSON.stringify(value, (_key, entry: unknown) => (typeof entry === 'bigint' ? `\u0000${entry}` : entry));
  return text.replace(/"\\u0000(-?\d+)"/g, '$1');
}

function diffValues(path: string, left: Exact | undefined, right: Exact | undefined, allowed: Set<string>, out: string[]): void {
  if (allowed.has(path)) {
    if (left === undefined || right === undefined || typeOf(left) !== typeOf(right)) {
      out.push(`${path}: present with one JSON type on both sides expected, Debezium ${show(left)}, ours ${show(right)}`);
    }
    return;
  }
  if (left === undefined || right === undefined || typeOf(left) !== typeOf(right)) {
    out.push(`${path || '(value)'}: Debezium ${show(left)}, ours ${show(right)}`);
    return;
  }
  if (Array.isArray(left) && Array.isArray(right)) {
    if (left.length !== right.length) out.push(`${path}: Debezium ${show(left)}, ours ${show(right)}`);
    else left.forEach((entry, index) => diffValues(`${path}[${index}]`, entry, right[index], allowed, out));
    return;
  }
  if (typeof left === 'object' && left !== null && typeof right === 'object' && right !== null) {
    const l = left as { [key: string]: Exact };
    const r = right as { [key: string]: Exact };
    for (const key of new Set([...Object.keys(l), ...Object.keys(r)])) diffValues(path ? `${path}.${key}` : key, l[key], r[key], allowed, out);
    return;
  }
  // Numbers: an integer literal on one side and a fraction or exponent on the other (Java's 1.0E300, JS's 1e+300).
  if (typeof left !== typeof right && typeOf(left) === 'number') {
    if (Number(left) !== Number(right)) out.push(`${path}: Debezium ${show(left)}, ours ${show(right)}`);
    return;
  }
  if (left !== right && !(typeof left === 'number' && Number.isNaN(left) && Number.isNaN(right))) {
    out.push(`${path}: Debezium ${show(left)}, ours ${show(right)}`);
  }
}

/**
 * Every difference between the two captures, as lines; empty when they agree. Records are matched per topic (after
 * the prefix) and key bytes (Kafka partitions and compacts by them: a key spelled otherwise is another key), in
 * order: Kafka keeps a key's records in order, whatever the partition count.
 */
export function compareCaptures(debezium: CapturedRecord[], ours: CapturedRecord[], options: CompareOptions): string[] {
  const problems: string[] = [];
  const allowed = new Set([...ALWAYS_ALLOWED, ...(options.allowedValuePaths ?? [])]);
  const streams = (records: CapturedRecord[], prefix: string, who: string) => {
    const byKey = new Map<string, CapturedRecord[]>();
    for (const record of records) {
      if (!record.topic.startsWith(`${prefix}.`)) {
        problems.push(`${who}: record on ${record.topic}, outside ${prefix}.*`);
        continue;
      }
      const id = `${record.topic.slice(prefix.length + 1)} ${record.key}`;
      byKey.set(id, [...(byKey.get(id) ?? []), record]);
    }
    return byKey;
  };
  const left = streams(debezium, options.debeziumPrefix, 'Debezium');
  const right = streams(ours, options.oursPrefix, 'ours');
  for (const id of new Set([...left.keys(), ...right.keys()])) {
    const a = left.get(id) ?? [];
    const b = right.get(id) ?? [];
    if (a.length !== b.length) problems.push(`${id}: Debezium sent ${a.length} records, ours ${b.length}`);
    for (let index = 0; index < Math.min(a.length, b.length); index++) {
      const where = `${id} #${index}`;
      const dbz = a[index]!;
      const our = b[index]!;
      if (dbz.value === null || our.value === null) {
        if (dbz.value !== our.value) problems.push(`${where}: tombstone on one side only (Debezium ${dbz.value === null ? 'tombstone' : 'value'}, ours ${our.value === null ? 'tombstone' : 'value'})`);
      } else {
        const lines: string[] = [];
        const dbzValue = parseExact(dbz.value) as { source?: { name?: Exact; sequence?: Exact } };
        const ourValue = parseExact(our.value) as { source?: { name?: Exact; sequence?: Exact } };
        const dbzSequence = dbzValue.source?.sequence;
        const ourSequence = ourValue.source?.sequence;
        if (options.debeziumLastCommitMayBeNull && typeof dbzSequence === 'string' && typeof ourSequence === 'string' && dbzSequence.startsWith('[null,')) {
          if (ourSequence.slice(ourSequence.indexOf(',')) === dbzSequence.slice(dbzSequence.indexOf(','))) ourValue.source!.sequence = dbzSequence;
        }
        diffValues('', dbzValue as Exact, ourValue as Exact, allowed, lines);
        if (dbzValue.source?.name !== options.debeziumPrefix) lines.push(`source.name: Debezium ${show(dbzValue.source?.name)}, not its prefix`);
        if (ourValue.source?.name !== options.oursPrefix) lines.push(`source.name: ours ${show(ourValue.source?.name)}, not our prefix ${options.oursPrefix}`);
        problems.push(...lines.map((line) => `${where}: ${line}`));
      }
      const debeziumOnly = (name: string) => (options.debeziumOnlyHeaderPrefixes ?? []).some((prefix) => name.startsWith(prefix));
      const oursOnly = new Set(options.oursOnlyHeaders ?? []);
      for (const name of new Set([...Object.keys(dbz.headers), ...Object.keys(our.headers)])) {
        if (debeziumOnly(name) && !(name in our.headers)) continue;
        if (oursOnly.has(name) && !(name in dbz.headers)) continue;
        if (dbz.headers[name] !== our.headers[name]) problems.push(`${where}: header ${name}: Debezium ${dbz.headers[name] ?? '(absent)'}, ours ${our.headers[name] ?? '(absent)'}`);
      }
    }
  }
  return problems;
}
