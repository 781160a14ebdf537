/**
 * Route path templates: literal segments, `{name}` for exactly one segment, `{name}.ext` for one segment ending in a
 * literal suffix (`/issues/{id}.json` matches `/issues/7.json`, not `/issues/7`), and a final `{**name}` for zero or
 * more segments (`/api/orders/{**rest}` matches `/api/orders`, `/api/orders/` and `/api/orders/7/lines`).
 */
export type TemplateSegment = { kind: 'literal'; value: string } | { kind: 'param'; suffix?: string } | { kind: 'catchAll' };

export interface PathTemplate {
  source: string;
  segments: TemplateSegment[];
  /** Compiled once; tested against normalised, decoded paths. */
  regex: RegExp;
}

const PARAM = /^\{[A-Za-z_][A-Za-z0-9_]*\}([^{}]*)$/;
const CATCH_ALL = /^\{\*\*[A-Za-z_][A-Za-z0-9_]*\}$/;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Parses a template; throws an Error whose message says what is wrong. */
export function parsePathTemplate(source: string): PathTemplate {
  if (!source.startsWith('/')) throw new Error('must start with /');
  const parts = source === '/' ? [] : source.slice(1).split('/');
  const segments: TemplateSegment[] = [];
  parts.forEach((part, index) => {
    const param = PARAM.exec(part);
    if (CATCH_ALL.test(part)) {
      if (index !== parts.length - 1) throw new Error(`catch-all '${part}' must be the last segment`);
      segments.push({ kind: 'catchAll' });
    } else if (param) {
      segments.push(param[1] ? { kind: 'param', suffix: param[1] } : { kind: 'param' });
    } else if (part === '' && index === parts.length - 1) {
      segments.push({ kind: 'literal', value: '' }); // trailing slash is significant
    } else if (part === '' || part.includes('{') || part.includes('}') || part === '.' || part === '..') {
      throw new Error(`invalid segment '${part}'`);
    } else {
      segments.push({ kind: 'literal', value: part });
    }
  });
  let pattern = '^';
  for (const segment of segments) {
    if (segment.kind === 'literal') pattern += `/${escapeRegex(segment.value)}`;
    else if (segment.kind === 'param') pattern += `/[^/]+${escapeRegex(segment.suffix ?? '')}`;
    else pattern += '(?:/.*)?';
  }
  if (segments.length === 0) pattern += '/';
  return { source, segments, regex: new RegExp(`${pattern}$`) };
}

/** True when every path `inner` matches is also matched by `outer`. */
export function templateCovers(outer: PathTemplate, inner: PathTemplate): boolean {
  const a = outer.segments;
  const b = inner.segments;
  for (let index = 0; index < a.length; index++) {
    const mine = a[index]!;
    if (mine.kind === 'catchAll') return true;
    const theirs = b[index];
    if (!theirs || theirs.kind === 'catchAll') return false;
    if (mine.kind === 'literal' && (theirs.kind !== 'literal' || theirs.value !== mine.value)) return false;
    if (mine.kind === 'param' && !paramCovers(mine.suffix ?? '', theirs)) return false;
  }
  return a.length === b.length;
}

/** True when every segment `theirs` matches also fits a parameter with this suffix (one non-empty segment). */
function paramCovers(suffix: string, theirs: TemplateSegment): boolean {
  if (theirs.kind === 'literal') return theirs.value.length > suffix.length && theirs.value.endsWith(suffix);
  return theirs.kind === 'param' && (theirs.suffix ?? '').endsWith(suffix);
}
