import { Registry } from 'prom-client';
import { endpointPattern } from '../../strangler-proxy';
import { LegacyInventory, MAX_ENDPOINTS } from '../../strangler-proxy/inventory';

describe('legacy endpoint inventory', () => {
  it('turns paths into patterns: identifiers become {id}, the query goes', () => {
    expect(endpointPattern('/api/orders/42/lines?page=2')).toBe('/api/orders/{id}/lines');
    expect(endpointPattern('/api/users/7f3c2a9e-1b2d-4c5e-8f90-123456789abc')).toBe('/api/users/{id}');
    expect(endpointPattern('/files/0123456789abcdef0123')).toBe('/files/{id}');
    expect(endpointPattern('/reset/tok3nAbCdEfGhIj')).toBe('/reset/{id}');
    expect(endpointPattern('/api/products/search')).toBe('/api/products/search');
    expect(endpointPattern('/api/v2/catalogue/')).toBe('/api/v2/catalogue/');
    expect(endpointPattern('/')).toBe('/');
  });

  it('counts per route, method and pattern, most requested first, and caps the series it creates', async () => {
    const registry = new Registry();
    const inventory = new LegacyInventory(registry);
    for (let n = 0; n < 3; n += 1) inventory.record('unmatched', 'GET', `/api/reports/${n}`);
    inventory.record('orders', 'POST', '/api/orders');
    inventory.record('orders', 'BREW', '/api/orders');
    expect(inventory.entries().map(({ route, method, endpoint, requests }) => ({ route, method, endpoint, requests }))).toEqual([
      { route: 'unmatched', method: 'GET', endpoint: '/api/reports/{id}', requests: 3 },
      { route: 'orders', method: 'OTHER', endpoint: '/api/orders', requests: 1 },
      { route: 'orders', method: 'POST', endpoint: '/api/orders', requests: 1 },
    ]);
    for (let n = 0; n < MAX_ENDPOINTS + 50; n += 1) inventory.record('unmatched', 'GET', `/page-${String.fromCharCode(97 + (n % 26))}${n}x`);
    const { values } = await registry.getSingleMetric('strangler_proxy_legacy_requests_total')!.get();
    expect(values.length).toBe(MAX_ENDPOINTS + 1);
    expect(values.find((value) => value.labels.endpoint === '(other)')?.value).toBe(53);
  });
});
