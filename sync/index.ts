export { parseMapping, loadMappingFile, selectAggregates, type Mapping, type AggregateMapping, type SideMapping, type SideName, type TranslationRule } from './options';
export { openAggregates, openSide } from './stores';
export { SideStore, type AggregateStores, type Queryable, type StoredVersion } from './store';
export { backfill, CHECKPOINT_TABLE, type BackfillOptions, type BackfillProgress, type BackfillResult } from './backfill';
export { verify, type DriftExample, type DriftKind, type VerifyReport } from './verify';
export { MappingApplier, incomingWinsTie, type ApplyOutcome, type ReplicatedEvent } from './apply';
export { createDriftGauge } from './metrics';
export { UntranslatableError, type Document, type Translator } from './translate';
export { SyncError, MappingInvalidError, UnsyncableEventError, SyncConflictError, type MappingIssue } from './errors';
