import { SettledDrift, type DriftExample } from '../../sync';

const missing = (id: string, sourceVersion = 1): DriftExample => ({ kind: 'missingInTarget', id, sourceVersion, targetVersion: null });
const stale = (id: string, sourceVersion: number, targetVersion: number): DriftExample => ({ kind: 'stale', id, sourceVersion, targetVersion });

describe('SettledDrift (the demo drift monitor under steady writes)', () => {
  it('does not count rows in flight: each check sees new ones, and the old ones have arrived', () => {
    const settled = new SettledDrift();
    expect(settled.observe('order', [missing('a'), missing('b')])).toBe(0);
    expect(settled.observe('order', [missing('c'), stale('d', 2, 1)])).toBe(0);
    expect(settled.observe('order', [missing('e')])).toBe(0);
  });

  it('counts a row that drifts the same way twice in a row, and drops it once it is synced or moves on', () => {
    const settled = new SettledDrift();
    settled.observe('product', [stale('p1', 3, 2), missing('p2')]);
    expect(settled.observe('product', [stale('p1', 3, 2), missing('p2'), missing('p3')])).toBe(2);
    // p1 synced, p2 still missing, p3 still missing: two settled.
    expect(settled.observe('product', [missing('p2'), missing('p3')])).toBe(2);
    // p2 changed again on legacy (a newer version in flight) is not the same drift.
    expect(settled.observe('product', [missing('p2', 2), missing('p3')])).toBe(1);
  });

  it('keeps aggregates apart', () => {
    const settled = new SettledDrift();
    settled.observe('user', [missing('x')]);
    expect(settled.observe('payment', [missing('x')])).toBe(0);
    expect(settled.observe('user', [missing('x')])).toBe(1);
  });
});
