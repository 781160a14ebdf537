import type { AggregateType } from './aggregates';

/** Which service is the source of truth for each aggregate once its route is flipped. */
export const AGGREGATE_OWNER: Record<AggregateType, string> = {
  user: 'users',
  product: 'catalog',
  order: 'orders',
  payment: 'payments',
};

function rank(origin: string, aggregateType: AggregateType): number {
  if (origin === AGGREGATE_OWNER[aggregateType]) return 2;
  return origin === 'legacy' ? 0 : 1;
}

/**
 * The conflict rule. Two different origins wrote the same version of one aggregate: the aggregate's owning
 * service wins, then any other service, then legacy; equal ranks (two non-owning services) go to the
 * lexicographically larger origin name. Every side applies the same rule to the same pair, so all converge on
 * the winner's state. Returns true when the incoming write beats the stored one.
 */
export function incomingWinsTie(aggregateType: AggregateType, storedOrigin: string, incomingOrigin: string): boolean {
  const difference = rank(incomingOrigin, aggregateType) - rank(storedOrigin, aggregateType);
  return difference !== 0 ? difference > 0 : incomingOrigin > storedOrigin;
}
