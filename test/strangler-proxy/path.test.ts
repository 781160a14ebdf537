import { normalizePath, type PathPolicy } from '../../strangler-proxy';

const strict: PathPolicy = { rejectEncodedSlash: true, rejectInvalidEncoding: true, rejectPathParameters: true };
const lenient: PathPolicy = { rejectEncodedSlash: false, rejectInvalidEncoding: false, rejectPathParameters: false };

// [raw request target, decoded path used for matching, path + query forwarded upstream]
const accepted: Array<[string, string, string]> = [
  ['/', '/', '/'],
  ['/api/orders', '/api/orders', '/api/orders'],
  ['/api/orders/', '/api/orders/', '/api/orders/'],
  ['/api/orders?id=1&x=%2F', '/api/orders', '/api/orders?id=1&x=%2F'],
  ['//api///orders', '/api/orders', '/api/orders'],
  ['/api/./orders', '/api/orders', '/api/orders'],
  ['/api/legacy/../orders', '/api/orders', '/api/orders'],
  ['/../../etc/passwd', '/etc/passwd', '/etc/passwd'],
  ['/api/%2e%2e/admin', '/admin', '/admin'],
  ['/api/%2E%2E/%2e/admin', '/admin', '/admin'],
  ['/api/orders/..', '/api/', '/api/'],
  ['/api/orders/.', '/api/orders/', '/api/orders/'],
  ['/api/%6Frders', '/api/orders', '/api/orders'],
  ['/api/orders/a%20b', '/api/orders/a b', '/api/orders/a%20b'],
  ['/api/%25', '/api/%', '/api/%25'],
  ['/api/%252F', '/api/%2F', '/api/%252F'],
  ['/api/caf%C3%A9', '/api/café', '/api/caf%C3%A9'],
  ['/api/items/a:b@c', '/api/items/a:b@c', '/api/items/a:b@c'],
  ['/api/%3Fnot-a-query', '/api/?not-a-query', '/api/%3Fnot-a-query'],
  ['/api/%23frag', '/api/#frag', '/api/%23frag'],
  ['/api/orders#fragment', '/api/orders', '/api/orders'],
  ['/.well-known/health', '/.well-known/health', '/.well-known/health'],
  ['/a/b/c/../../d', '/a/d', '/a/d'],
  ['/api/orders?q=../x', '/api/orders', '/api/orders?q=../x'],
];

const rejected: Array<[string, string]> = [
  ['/api/orders%2F..%2Fadmin', 'encoded slash'],
  ['/api/orders%2f1', 'encoded slash'],
  ['/api/a%5Cb', 'encoded slash'],
  ['/api\\admin', 'backslash'],
  ['/api/%zz', 'invalid percent-encoding'],
  ['/api/%E0%A4%A', 'invalid percent-encoding'],
  ['/api/%C3%28', 'invalid percent-encoding'],
  ['/api/%00', 'control character'],
  ['/api/a%0Ab', 'control character'],
  ['api/orders', 'must start with /'],
  ['http://evil.example/api', 'must start with /'],
  ['/api/%EE%80%80', 'reserved code point'],
  // Tomcat-style path parameters: Tomcat reads /api/orders/..;/admin as /admin, behind the route's back.
  ['/api/orders/..;/admin', 'path parameter'],
  ['/api/orders/..%3B/admin', 'path parameter'],
  ['/api/orders/1;jsessionid=abc', 'path parameter'],
  ['/api/x;v=1', 'path parameter'],
];

describe('normalizePath (strict policy)', () => {
  it.each(accepted)('%s -> match %s, forward %s', (raw, path, forwardPath) => {
    expect(normalizePath(raw, strict)).toEqual({ ok: true, path, forwardPath });
  });

  it.each(rejected)('%s is rejected (%s)', (raw, reason) => {
    const result = normalizePath(raw, strict);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toContain(reason);
  });

  it('gives the same answer for the forwarded path (idempotent)', () => {
    for (const [raw] of accepted) {
      const first = normalizePath(raw, strict);
      if (!first.ok) throw new Error(raw);
      const second = normalizePath(first.forwardPath, strict);
      expect(second).toEqual({ ok: true, path: first.path, forwardPath: first.forwardPath.split('#')[0] });
    }
  });
});

describe('normalizePath (lenient policy)', () => {
  it('keeps encoded slashes encoded so they never act as separators', () => {
    const result = normalizePath('/api/orders%2F..%2Fadmin', lenient);
    expect(result).toMatchObject({ ok: true, forwardPath: '/api/orders%2F..%2Fadmin' });
    expect(result.ok && result.path).not.toBe('/api/admin');
  });

  it('passes invalid encodings through undecoded', () => {
    expect(normalizePath('/api/%zz', lenient)).toEqual({ ok: true, path: '/api/%zz', forwardPath: '/api/%25zz' });
  });

  it('passes path parameters through when they are allowed', () => {
    expect(normalizePath('/api/x;v=1', lenient)).toEqual({ ok: true, path: '/api/x;v=1', forwardPath: '/api/x;v=1' });
  });

  it('still rejects a smuggled placeholder code point', () => {
    expect(normalizePath('/api/%EE%80%80', lenient).ok).toBe(false);
  });
});
