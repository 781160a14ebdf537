export { backfill, CHECKPOINT_TABLE, type BackfillOptions, type BackfillProgress, type BackfillResult } from './backfill';
export { verify, type DriftExample, type DriftKind, type VerifyReport } from './verify';
export { MigrationToolError } from './errors';
export { createDriftGauge } from './metrics';
export { LEGACY_DATABASE, parseAggregates, resolveDatabases, serviceDatabase, SERVICE_NAMES } from './targets';
