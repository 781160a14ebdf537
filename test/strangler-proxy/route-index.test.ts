import type http from 'node:http';
import { RouteIndex, type IndexedRoute } from '../../strangler-proxy/route-index';
import { parsePathTemplate } from '../../strangler-proxy/template';

interface TestRoute extends IndexedRoute {
  id: string;
  regex: RegExp;
}

function routes(...specs: Array<{ path: string; methods?: string[]; headers?: Record<string, string> }>): TestRoute[] {
  return specs.map((spec, rank) => {
    const template = parsePathTemplate(spec.path);
    return {
      id: spec.path + (spec.methods ? ` ${spec.methods.join(',')}` : '') + (spec.headers ? ` ${JSON.stringify(spec.headers)}` : ''),
      rank,
      segments: template.segments,
      regex: template.regex,
      methods: spec.methods ? new Set(spec.methods) : undefined,
      headers: Object.entries(spec.headers ?? {}),
    };
  });
}

/** The definition the index must agree with: the first route in order whose template regex, methods and headers match. */
function scan(table: TestRoute[], method: string, path: string, headers: http.IncomingHttpHeaders): TestRoute | undefined {
  return table.find(
    (route) => route.regex.test(path) && (!route.methods || route.methods.has(method)) && route.headers.every(([name, value]) => headers[name] === value),
  );
}

describe('RouteIndex', () => {
  const table = routes(
    { path: '/api/orders/{id}', methods: ['GET'] },
    { path: '/api/orders/{**rest}', headers: { 'x-canary': '1' } },
    { path: '/api/{section}/export' },
    { path: '/api/orders/{**rest}' },
    { path: '/' },
    { path: '/files/' },
    { path: '/{**rest}', methods: ['DELETE'] },
  );
  const index = new RouteIndex(table);
  const found = (method: string, path: string, headers: http.IncomingHttpHeaders = {}) => index.find(method, path, headers)?.id;

  it('keeps match order across literal, parameter and catch-all branches', () => {
    expect(found('GET', '/api/orders/7')).toBe('/api/orders/{id} GET');
    expect(found('POST', '/api/orders/7')).toBe('/api/orders/{**rest}');
    expect(found('POST', '/api/orders/7', { 'x-canary': '1' })).toBe('/api/orders/{**rest} {"x-canary":"1"}');
    // A lower-ranked param route beats a later literal catch-all, and the other way round.
    expect(found('GET', '/api/orders/export')).toBe('/api/orders/{id} GET');
    expect(found('POST', '/api/orders/export')).toBe('/api/{section}/export');
    expect(found('GET', '/api/users/export')).toBe('/api/{section}/export');
  });

  it('matches a parameter with a suffix only on segments that end with it', () => {
    const formats = routes({ path: '/issues/{id}.json', methods: ['PUT'] }, { path: '/issues/{id}.json' }, { path: '/issues/{id}' }, { path: '/issues.json' });
    const formatIndex = new RouteIndex(formats);
    const at = (method: string, path: string) => formatIndex.find(method, path, {})?.id;
    expect(at('PUT', '/issues/7.json')).toBe('/issues/{id}.json PUT');
    expect(at('GET', '/issues/7.json')).toBe('/issues/{id}.json');
    expect(at('GET', '/issues/7')).toBe('/issues/{id}');
    expect(at('GET', '/issues/.json')).toBe('/issues/{id}');
    expect(at('GET', '/issues.json')).toBe('/issues.json');
  });

  it('treats the root, trailing slashes and empty segments as the templates do', () => {
    expect(found('GET', '/')).toBe('/');
    expect(found('GET', '/files/')).toBe('/files/');
    expect(found('GET', '/files')).toBeUndefined();
    expect(found('GET', '/api/orders')).toBe('/api/orders/{**rest}');
    expect(found('GET', '/api/orders/')).toBe('/api/orders/{**rest}');
    expect(found('GET', '/api/users/')).toBeUndefined();
    expect(found('DELETE', '/anything/at/all')).toBe('/{**rest} DELETE');
    expect(found('DELETE', '/')).toBe('/');
    expect(found('GET', '/nowhere')).toBeUndefined();
  });

  it('gives the answer of a scan in match order for random tables and paths', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const words = ['a', 'b', 'c', '', 'a.json', 'c.b.json', '.json'];
    const pick = <T>(items: readonly T[]) => items[random(items.length)]!;
    for (let round = 0; round < 200; round++) {
      const specs = Array.from({ length: 1 + random(12) }, () => {
        const depth = random(4);
        const parts: string[] = [];
        for (let level = 0; level < depth; level++) parts.push(pick(['a', 'b', '{p}', '{p}.json', '{p}.b.json', 'a.json']));
        const ending = pick(['', '/{**rest}', '/']);
        const path = `/${parts.join('/')}${parts.length ? ending : ending === '/' ? '' : ending}`.replace(/^\/\//, '/');
        return {
          path: path === '' ? '/' : path,
          ...(random(3) === 0 ? { methods: [pick(['GET', 'POST'])] } : {}),
          ...(random(3) === 0 ? { headers: pick<Record<string, string>>([{ 'x-side': pick(['1', '2']) }, { 'x-tenant': pick(['t1', 't2']) }, { 'x-tenant': pick(['t1', 't2']), 'x-side': pick(['1', '2']) }]) } : {}),
        };
      });
      const generated = routes(...specs);
      const generatedIndex = new RouteIndex(generated);
      for (let probe = 0; probe < 40; probe++) {
        const segments = Array.from({ length: random(5) }, () => pick(words));
        const path = `/${segments.join('/')}`.replace(/\/{2,}/g, '/');
        const method = pick(['GET', 'POST']);
        const headers = { ...(random(2) === 0 ? { 'x-side': pick(['1', '2']) } : {}), ...(random(2) === 0 ? { 'x-tenant': pick(['t1', 't2']) } : {}) };
        const expected = scan(generated, method, path, headers)?.rank;
        expect({ path, method, headers, rank: generatedIndex.find(method, path, headers)?.rank }).toEqual({ path, method, headers, rank: expected });
      }
    }
  });

  it('visits only the branches a path can follow, whatever the size of the table', () => {
    const large = routes(...Array.from({ length: 5_000 }, (_, route) => ({ path: `/api/items/{id}/r${route}` })), { path: '/api/{**rest}' });
    const largeIndex = new RouteIndex(large);
    expect(largeIndex.find('GET', '/api/items/42', {})?.rank).toBe(5_000);
    expect(largeIndex.find('GET', '/api/items/42/r4999', {})?.rank).toBe(4_999);
    expect(largeIndex.find('GET', '/api/items/42/r5000', {})?.rank).toBe(5_000);
  });

  it('finds one of many routes that differ only in a header value without checking each', () => {
    const tenants = routes(...Array.from({ length: 1_000 }, (_, tenant) => ({ path: '/api/items/{id}', headers: { 'x-tenant': `t${tenant}` } })), { path: '/api/{**rest}' });
    const tenantIndex = new RouteIndex(tenants);
    expect(tenantIndex.find('GET', '/api/items/42', { 'x-tenant': 't999' })?.rank).toBe(999);
    expect(tenantIndex.find('GET', '/api/items/42', { 'x-tenant': 't1000' })?.rank).toBe(1_000);
    expect(tenantIndex.find('GET', '/api/items/42', {})?.rank).toBe(1_000);
    const reads: string[] = [];
    const watched = new Proxy({}, { get: (_, name) => (reads.push(String(name)), undefined) }) as http.IncomingHttpHeaders;
    tenantIndex.find('GET', '/api/items/42', watched);
    // One read of x-tenant for the whole bucket, not one per tenant route.
    expect(reads).toEqual(['x-tenant']);
  });
});
