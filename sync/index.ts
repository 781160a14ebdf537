export { parseMapping, loadMappingFile, selectAggregates, type Mapping, type AggregateMapping, type SideMapping, type SideName, type TranslationRule } from './options';
export { openAggregates, openSide } from './stores';
export { SideStore, quoteTable, TOAST_PLACEHOLDER, type AggregateStores, type Queryable, type StoredVersion } from './store';
export { sideReader, type SideReader, type SidePage, type AnySideStore, type SideConnection, type MigrationStores } from './side';
export {
  MySqlDatabase,
  MySqlSideStore,
  isMySqlUrl,
  isMySqlDuplicateKey,
  isMySqlLockFailure,
  decodeMySqlValue,
  encodeMySqlValue,
  mySqlKindOf,
  type MySqlQueryable,
  type MySqlSession,
  type MySqlValueKind,
  type MySqlWriteOptions,
} from './mysql-store';
export { legacyAccess, type LegacyAccess, type LegacyWriteBack, type LegacyChanges, type WriteBackOutcome } from './legacy-access';
export { backfill, CHECKPOINT_TABLE, type BackfillOptions, type BackfillProgress, type BackfillResult } from './backfill';
export { verify, type DriftExample, type DriftKind, type VerifyReport } from './verify';
export { MappingApplier, incomingWinsTie, type ApplyOutcome, type ReplicatedEvent } from './apply';
export { SyncConsumer, type SyncConsumerOptions, type SyncConsumerDeps } from './consumer';
export {
  CapturedSync,
  aggregateKeysOf,
  keyTextOf,
  capturedTopic,
  capturedRoutes,
  qualifiedTableName,
  assertNoPlaceholder,
  ConcurrentWriteError,
  PlaceholderValueError,
  type CapturedTable,
  type KeyOutcome,
  type MarkOrigin,
} from './captured';
export {
  SYNC_STATE_TABLE,
  CONFLICTS_TABLE,
  CONFLICT_KINDS,
  ensureSyncTables,
  decideFromLegacy,
  decideFromService,
  type ConflictKind,
  type SyncState,
  type SyncDecision,
} from './state';
export { listConflicts, applyConflict, type ConflictRow } from './conflicts';
export { createDriftGauge, createConflictCounter } from './metrics';
export { DriftMonitor, SettledDrift, type DriftCheck, type DriftMonitorOptions, type DriftTarget } from './drift-monitor';
export { UntranslatableError, type Document, type Translator } from './translate';
export { SyncError, MappingInvalidError, UnsyncableEventError, SyncConflictError, SYNC_ERROR_CODES, type SyncErrorCode, type MappingIssue } from './errors';
