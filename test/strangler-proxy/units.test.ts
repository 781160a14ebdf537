import { RecentSplits } from '../../strangler-proxy/recent-split';
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
  const context = parseProxyConfig({ admin: { token: 'token-token' }, flags: { provider: 'file' }, clusters: { legacy: { url: 'http://x' } } }, {}).context;
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
      lag: { versionPaths: ['version', '*.version'], recheckMs: 0 },
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

describe('RecentSplits (the last minute of the legacy/extracted split)', () => {
  it('counts only what the window saw, while the cumulative counter keeps everything', () => {
    let now = 0;
    const split = { legacy: 0, extracted: 0 };
    const recent = new RecentSplits(() => [['orders', split]], 60_000, 5_000, () => now);
    recent.sample();
    // The first two minutes: all on legacy.
    for (; now < 120_000; now += 5_000) {
      split.legacy += 100;
      recent.sample();
    }
    // Then a 10 % rollout: 90 legacy, 10 extracted per 5 s.
    for (; now < 180_000; now += 5_000) {
      split.legacy += 90;
      split.extracted += 10;
      recent.sample();
    }
    const view = recent.view('orders', split);
    expect(view.windowSeconds).toBe(60);
    // The baseline is the sample taken at 120 s; the eleven 5 s steps after it were all at 10 %.
    expect(view).toMatchObject({ legacy: 990, extracted: 110, extractedPercent: 10 });
    expect(split.extracted / (split.legacy + split.extracted)).toBeLessThan(0.04);
  });

  it('covers less than the window while the proxy is young, and a route it never sampled from zero', () => {
    let now = 1_000;
    const split = { legacy: 3, extracted: 1 };
    const recent = new RecentSplits(() => [['orders', split]], 60_000, 5_000, () => now);
    recent.sample();
    now = 11_000;
    split.extracted += 4;
    expect(recent.view('orders', split)).toEqual({ legacy: 0, extracted: 4, extractedPercent: 100, windowSeconds: 10 });
    expect(recent.view('users', { legacy: 7, extracted: 0 })).toMatchObject({ legacy: 7, extracted: 0, extractedPercent: 0 });
  });
});
