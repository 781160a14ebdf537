export { runMigrations, outboxMigrations, migrateOutbox, type Migration, type MigrationOptions } from './migrations';
export { append, appendMany, type OutboxEvent, type AppendOptions } from './writer';
export {
  OutboxError,
  InvalidEventError,
  InvalidOptionsError,
  SlotLostError,
  SlotMissingError,
  UnpublishableEventError,
  PublishError,
  TopicPartitionsChangedError,
  TopicLeadersTimeoutError,
  OUTBOX_ERROR_CODES,
  type OutboxErrorCode,
} from './errors';
export { parseRelayOptions, parseInboxOptions, type RelayOptions, type RelayOptionsInput, type InboxOptions, type InboxOptionsInput } from './options';
export { KafkaPublisher, type Publisher, type PublishRecord, type KafkaPublisherOptions } from './publisher';
export { KafkaSubscriber, type Subscriber, type SubscribeOptions, type RecordBatch, type ConsumedRecord, type BatchControl, type DetachedBatch, type KafkaSubscriberOptions } from './subscriber';
export { CdcRelay } from './cdc-relay';
export { resetReplicationSlot, type SlotReset } from './slot-reset';
export { PollingRelay, pollingMigrations } from './polling-relay';
export { createRelay, type Relay } from './relay';
export {
  TableCaptureRelay,
  BinlogCaptureRelay,
  binlogEventId,
  BINLOG_RESET_COMMAND,
  isMysqlUrl,
  markOrigin,
  markMysqlStatement,
  mysqlOriginComment,
  mysqlStatementOrigin,
  prepareMysqlOriginSession,
  captureEventId,
  CapturePreflightError,
  ORIGIN_MESSAGE_PREFIX,
  UNAVAILABLE_VALUE_PLACEHOLDER,
  type CaptureOptions,
  type CaptureOptionsInput,
  type CaptureEventIdInput,
  type BinlogEventIdInput,
  type BinlogPosition,
  type PreflightProblem,
} from './capture';
export { DEFAULT_TOPIC_PREFIX, ensureTopics, createTopicsWithLeaders, describeTopics, ensureAndDescribeTopics, layoutDifferences, type TopicLayout, type TopicDescription } from './topics';
export type { RelayDeps } from './leadership';
export { createRelayMetrics, createInboxMetrics } from './metrics';
export { expandJsonHeaders, InboxConsumer, type InboxEvent, type InboxHandler, type InboxBatchHandler, type HandlerOutcome, type InboxDeps } from './inbox';
export { AppliedEvents, appliedEventsHandler, parseWritten, formatWritten, APPLIED_PATH, INBOX_NOTIFY_CHANNEL, WRITTEN_HEADER, type AppliedEventsOptions, type WrittenEntry } from './applied';
