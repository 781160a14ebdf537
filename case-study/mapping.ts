import path from 'node:path';
import { loadMappingFile, type Mapping } from '../sync';
import type { AggregateType } from '../legacy-monolith';

/** case-study/mapping.yaml: the declared data mapping the demo's sync consumers, backfill and verify run from. */
export const CASE_STUDY_MAPPING_FILE = path.join(__dirname, 'mapping.yaml');

let loaded: Mapping | undefined;

export function caseStudyMapping(): Mapping {
  loaded ??= loadMappingFile(CASE_STUDY_MAPPING_FILE);
  return loaded;
}

/** The service that owns an aggregate and makes all its writes (the mapping's `owner`). */
export function ownerOf(aggregateType: AggregateType): string {
  return caseStudyMapping().aggregates.get(aggregateType)!.ownerOrigin;
}
