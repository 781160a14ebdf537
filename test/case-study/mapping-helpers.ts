import type { Pool } from 'pg';
import { backfill, openAggregates, verify, type BackfillOptions, type BackfillResult, type VerifyReport } from '../../sync';
import type { AggregateType } from '../../legacy-monolith';
import { caseStudyMapping } from '../../case-study/mapping';

/** verify() of one case-study aggregate between a legacy and a service database, through case-study/mapping.yaml. */
export async function verifyAggregate(legacy: Pool, service: Pool, aggregateType: AggregateType, options: { chunkSize: number; maxExamples: number }): Promise<VerifyReport> {
  const mapping = caseStudyMapping();
  const [stores] = await openAggregates(mapping, [mapping.aggregates.get(aggregateType)!], { legacy, service });
  return verify(stores!, { legacy, service }, options);
}

/** backfill() of one case-study aggregate from legacy into a service database. */
export async function backfillAggregate(
  legacy: Pool,
  service: Pool,
  aggregateType: AggregateType,
  options: Omit<BackfillOptions, 'legacyOrigin'>,
  onProgress?: Parameters<typeof backfill>[3],
  signal?: AbortSignal,
): Promise<BackfillResult> {
  const mapping = caseStudyMapping();
  const [stores] = await openAggregates(mapping, [mapping.aggregates.get(aggregateType)!], { legacy, service });
  return backfill(stores!, { legacy, service }, { ...options, legacyOrigin: 'legacy' }, onProgress, signal);
}
