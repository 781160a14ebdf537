import { AGGREGATE_OWNER, incomingWinsTie } from '../../extracted/common/conflicts';

describe('conflict rule (a tie of versions from different origins)', () => {
  it('lets the owning service beat legacy and any other service, and any service beat legacy', () => {
    expect(incomingWinsTie('product', 'legacy', 'catalog')).toBe(true);
    expect(incomingWinsTie('product', 'catalog', 'legacy')).toBe(false);
    expect(incomingWinsTie('product', 'orders', 'catalog')).toBe(true);
    expect(incomingWinsTie('product', 'catalog', 'orders')).toBe(false);
    expect(incomingWinsTie('payment', 'legacy', 'orders')).toBe(true);
    expect(incomingWinsTie('payment', 'orders', 'legacy')).toBe(false);
  });

  it('breaks a tie between two non-owning services by the larger origin name', () => {
    expect(incomingWinsTie('user', 'catalog', 'orders')).toBe(true);
    expect(incomingWinsTie('user', 'orders', 'catalog')).toBe(false);
  });

  it('is antisymmetric for every pair of distinct origins, so both sides converge on the same winner', () => {
    const origins = ['legacy', 'users', 'catalog', 'payments', 'orders'];
    for (const aggregateType of Object.keys(AGGREGATE_OWNER) as (keyof typeof AGGREGATE_OWNER)[]) {
      for (const stored of origins) {
        for (const incoming of origins) {
          if (stored === incoming) continue;
          expect(incomingWinsTie(aggregateType, stored, incoming)).toBe(!incomingWinsTie(aggregateType, incoming, stored));
        }
      }
    }
  });
});
