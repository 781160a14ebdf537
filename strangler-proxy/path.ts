/**
 * The one path normalisation used both to match routes and to build the upstream request, so the proxy and the
 * upstream always agree on which resource is meant: decode once, collapse repeated slashes, remove dot segments,
 * re-encode canonically. Encoded separators and invalid encodings are rejected (configurably).
 */
export interface PathPolicy {
  /** Reject `%2F`, `%5C` and a raw `\` (400). When false they are kept encoded and never act as separators. */
  rejectEncodedSlash: boolean;
  /** Reject malformed percent-encodings and invalid UTF-8 (400). When false such segments pass through undecoded. */
  rejectInvalidEncoding: boolean;
  /** Reject path parameters: a `;` in the path, raw or as %3B (400). */
  rejectPathParameters: boolean;
}

export type NormalizedPath =
  | { ok: true; /** decoded, for matching */ path: string; /** canonical encoding plus the untouched query */ forwardPath: string }
  | { ok: false; reason: string };

// Characters RFC 3986 allows unencoded in a path segment.
const SAFE_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;
const SAFE_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const ENCODED_SEPARATOR = /%(2f|5c)/i;
const NON_ASCII = /[\u0080-\u00ff]/;
// Placeholders for kept-encoded separators; an input that decodes to them is rejected as invalid.
const SLASH_MARK = '\uE000';
const BACKSLASH_MARK = '\uE001';
const MARK_ENCODED = /%EE%80%8[01]/i;
const PARAMETER_ENCODED = /%3b/i;
const UNRESERVED_AFTER_ENCODE = /%(24|26|2B|2C|3B|3D|3A|40)/g;

function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function encodeSegment(segment: string): string {
  if (SAFE_SEGMENT.test(segment)) return segment;
  return encodeURIComponent(segment)
    .replace(UNRESERVED_AFTER_ENCODE, (escape) => String.fromCharCode(parseInt(escape.slice(1), 16)))
    .replace(/%EE%80%80/g, '%2F')
    .replace(/%EE%80%81/g, '%5C');
}

type Decoded = { ok: true; value: string } | { ok: false; reason: string };

function decodeSegment(raw: string, policy: PathPolicy): Decoded {
  let segment = raw;
  if (NON_ASCII.test(segment)) {
    // node hands raw bytes over as latin1; reinterpret them as the UTF-8 the client sent.
    const utf8 = Buffer.from(segment, 'latin1').toString('utf8');
    if (utf8.includes('\uFFFD')) return policy.rejectInvalidEncoding ? { ok: false, reason: 'invalid UTF-8' } : { ok: true, value: raw };
    segment = utf8;
  }
  if (!segment.includes('%')) return { ok: true, value: segment };
  if (MARK_ENCODED.test(segment)) return { ok: false, reason: 'reserved code point' };
  if (ENCODED_SEPARATOR.test(segment)) {
    if (policy.rejectEncodedSlash) return { ok: false, reason: 'encoded slash or backslash' };
    segment = segment.replace(/%2f/gi, SLASH_MARK).replace(/%5c/gi, BACKSLASH_MARK);
  }
  try {
    return { ok: true, value: decodeURIComponent(segment) };
  } catch {
    return policy.rejectInvalidEncoding ? { ok: false, reason: 'invalid percent-encoding' } : { ok: true, value: raw };
  }
}

export function normalizePath(rawUrl: string, policy: PathPolicy): NormalizedPath {
  let end = rawUrl.indexOf('?');
  const hash = rawUrl.indexOf('#');
  if (hash !== -1 && (end === -1 || hash < end)) end = hash;
  const rawPath = end === -1 ? rawUrl : rawUrl.slice(0, end);
  const query = end === -1 || rawUrl.charCodeAt(end) === 35 /* # */ ? '' : rawUrl.slice(end).split('#', 1)[0]!;
  if (rawPath.charCodeAt(0) !== 47 /* / */) return { ok: false, reason: 'path must start with /' };
  if (policy.rejectPathParameters && (rawPath.includes(';') || PARAMETER_ENCODED.test(rawPath))) return { ok: false, reason: 'path parameter (;) in path' };
  if (SAFE_PATH.test(rawPath) && !rawPath.includes('//') && !rawPath.includes('/.')) {
    return { ok: true, path: rawPath, forwardPath: rawUrl.length === rawPath.length + query.length ? rawUrl : rawPath + query };
  }
  if (rawPath.includes('\\') && policy.rejectEncodedSlash) return { ok: false, reason: 'backslash in path' };

  const rawSegments = rawPath.split('/');
  const output: string[] = [];
  let trailingSlash = false;
  for (let index = 1; index < rawSegments.length; index++) {
    const decoded = decodeSegment(rawSegments[index]!, policy);
    if (!decoded.ok) return decoded;
    const segment = decoded.value;
    if (hasControlCharacter(segment)) return { ok: false, reason: 'control character in path' };
    const last = index === rawSegments.length - 1;
    if (segment === '' || segment === '.') {
      trailingSlash = last;
    } else if (segment === '..') {
      output.pop();
      trailingSlash = last;
    } else {
      output.push(segment);
      trailingSlash = false;
    }
  }
  const suffix = trailingSlash && output.length > 0 ? '/' : '';
  return {
    ok: true,
    path: `/${output.join('/')}${suffix}`,
    forwardPath: `/${output.map(encodeSegment).join('/')}${suffix}${query}`,
  };
}
