export { backfill, CHECKPOINT_TABLE, type BackfillOptions, type BackfillProgress, type BackfillResult } from './backfill';
export { verify, type DriftExample, type DriftKind, type VerifyReport } from './verify';
export { MigrationToolError } from './errors';
export { createDriftGauge } from './metrics';
export { DEFAULT_DATABASE_PREFIX, demoDatabase, parseAggregates, resolveDatabases, SERVICE_NAMES } from './targets';
