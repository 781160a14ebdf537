import { AGGREGATE_TYPES, type AggregateType } from '../../legacy-monolith';
import { caseStudyMapping } from '../../case-study/mapping';
import { incomingWinsTie as tie } from '../../sync';

/** The mapping's owner-wins rule for a case-study aggregate (case-study/mapping.yaml). */
const incomingWinsTie = (aggregateType: AggregateType, stored: string, incoming: string) => tie(caseStudyMapping().aggregates.get(aggregateType)!, stored, incoming);

describe('owner-wins conflict rule of the case-study mapping (a tie of versions from different origins)', () => {
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
    for (const aggregateType of AGGREGATE_TYPES) {
      for (const stored of origins) {
        for (const incoming of origins) {
          if (stored === incoming) continue;
          expect(incomingWinsTie(aggregateType, stored, incoming)).toBe(!incomingWinsTie(aggregateType, incoming, stored));
        }
      }
    }
  });
});
