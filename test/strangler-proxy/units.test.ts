import { CircuitBreaker, CIRCUIT_CLOSED, CIRCUIT_HALF_OPEN, CIRCUIT_OPEN } from '../../strangler-proxy/circuit';
import { IdentityReader, unverifiedJwtSubject } from '../../strangler-proxy/context';
import { compareResponses, compileCompareRules } from '../../strangler-proxy/diff';
import { parseProxyConfig } from '../../strangler-proxy';

describe('CircuitBreaker', () => {
  it('opens after the threshold, admits one probe after openMs, and closes or reopens on its verdict', () => {
    let now = 0;
    const breaker = new CircuitBreaker(3, 1000, () => now);
    for (let i = 0; i < 2; i++) {
      expect(breaker.tryAcquire()).toBe(true);
      breaker.onFailure();
    }
    expect(breaker.current()).toBe(CIRCUIT_CLOSED);
    breaker.tryAcquire();
    breaker.onFailure();
    expect(breaker.current()).toBe(CIRCUIT_OPEN);
    expect(breaker.tryAcquire()).toBe(false);
    now = 1000;
    expect(breaker.wouldAdmit()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.current()).toBe(CIRCUIT_HALF_OPEN);
    expect(breaker.tryAcquire()).toBe(false); // one probe at a time
    breaker.onFailure();
    expect(breaker.current()).toBe(CIRCUIT_OPEN);
    now = 2500;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onAbandon(); // a client that went away frees the probe slot
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onSuccess();
    expect(breaker.current()).toBe(CIRCUIT_CLOSED);
  });

  it('resets the failure count on success', () => {
    const breaker = new CircuitBreaker(2, 1000);
    breaker.onFailure();
    breaker.onSuccess();
    breaker.onFailure();
    expect(breaker.current()).toBe(CIRCUIT_CLOSED);
  });
});

describe('IdentityReader', () => {
  const context = parseProxyConfig({ admin: { token: 'token-token' }, clusters: { legacy: { url: 'http://x' } } }, {}).context;
  const reader = new IdentityReader(context);
  const jwt = (claims: object) => `Bearer h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

  it('takes userId from the header first, then an unverified JWT sub', () => {
    expect(reader.read({ 'x-user-id': 'u1', authorization: jwt({ sub: 'u2' }) }, true, '10.0.0.1')).toEqual({ userId: 'u1', sessionId: undefined, remoteAddress: '10.0.0.1', newSession: false });
    expect(reader.read({ authorization: jwt({ sub: 'u2' }) }, true, undefined).userId).toBe('u2');
    expect(reader.read({ authorization: 'Bearer not-a-jwt' }, true, undefined).userId).toBeUndefined();
    // Session stickiness ignores the userId and needs a session.
    expect(reader.read({ 'x-user-id': 'u1' }, false, undefined)).toMatchObject({ userId: undefined, newSession: true });
    expect(unverifiedJwtSubject('a.!!!.c')).toBeUndefined();
    expect(unverifiedJwtSubject(`a.${Buffer.from('{"sub":42}').toString('base64url')}.c`)).toBeUndefined();
  });

  it('reads the session cookie wherever it sits, and makes one up (to be set) when absent', () => {
    const read = (headers: Record<string, string>) => reader.read(headers, true, undefined);
    expect(read({ cookie: 'sfg_sid=abc' })).toMatchObject({ sessionId: 'abc', newSession: false });
    expect(read({ cookie: 'a=1; sfg_sid=abc; b=2' })).toMatchObject({ sessionId: 'abc', newSession: false });
    expect(read({ cookie: 'a=1;sfg_sid=xyz' })).toMatchObject({ sessionId: 'xyz', newSession: false });
    expect(read({ cookie: 'not_sfg_sid=abc' }).newSession).toBe(true);
    const fresh = read({});
    expect(fresh.newSession).toBe(true);
    expect(reader.setCookieValue(fresh.sessionId!)).toMatch(new RegExp(`^sfg_sid=${fresh.sessionId}; Path=/; Max-Age=\\d+; HttpOnly; SameSite=Lax$`));
  });
});

describe('compareResponses', () => {
  const shadow = (overrides: object = {}) =>
    compileCompareRules({
      enabled: true,
      allowWrites: false,
      timeoutMs: 1000,
      maxBodyBytes: 1000,
      ignorePaths: ['meta.servedBy', 'items[*].etag'],
      normalise: { timestamps: true, uuids: true, arrayOrder: false },
      ...overrides,
    });
  const side = (status: number, body: unknown) => ({ status, body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) });

  it('ignores configured paths, key order, timestamps and uuids', () => {
    const a = side(200, { id: '0b9a4f5e-1c2d-4e3f-8a9b-0c1d2e3f4a5b', at: '2026-01-01T10:00:00Z', meta: { servedBy: 'legacy' }, items: [{ sku: 1, etag: 'x' }] });
    const b = side(200, { items: [{ etag: 'y', sku: 1 }], meta: { servedBy: 'orders' }, at: '2026-02-02T11:11:11.123+01:00', id: 'f47ac10b-58cc-4372-a567-0e02b2c3d479' });
    expect(compareResponses(a, b, shadow())).toEqual({ match: true, differences: [] });
  });

  it('reports status, value and missing-key differences by path', () => {
    const result = compareResponses(side(200, { total: 10, items: [1, 2] }), side(201, { total: 11, items: [1] }), shadow());
    expect(result).toEqual({ match: false, differences: ['status', '$.items.1', '$.total'] });
  });

  it('compares arrays as multisets only when arrayOrder is set', () => {
    const a = side(200, [{ id: 1 }, { id: 2 }]);
    const b = side(200, [{ id: 2 }, { id: 1 }]);
    expect(compareResponses(a, b, shadow()).match).toBe(false);
    expect(compareResponses(a, b, shadow({ normalise: { timestamps: true, uuids: true, arrayOrder: true } })).match).toBe(true);
  });

  it('compares non-JSON bodies byte for byte', () => {
    expect(compareResponses(side(200, 'hello'), side(200, 'hello'), shadow()).match).toBe(true);
    expect(compareResponses(side(200, 'hello'), side(200, 'world'), shadow()).differences).toEqual(['body']);
  });
});
