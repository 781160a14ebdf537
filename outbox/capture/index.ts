export { TableCaptureRelay } from './relay';
export { markOrigin } from './origin';
export { captureEventId, lsnDecimal, ORIGIN_MESSAGE_PREFIX, DEBEZIUM_VERSION, CAPTURE_EVENT_NAMESPACE, type CaptureEventIdInput } from './decoder';
export { CapturePreflightError, type PreflightProblem } from './errors';
export { preflight, type CaptureCatalog, type CapturedTable, type CapturedColumn, type Queryable } from './preflight';
export { UNAVAILABLE_VALUE_PLACEHOLDER, parseTableName, type CaptureOptions, type CaptureOptionsInput, type TableName } from './options';
export { CAPTURE_RESET_COMMAND, forgetCaptureSlot } from './slot';
export { columnCodec, REPLICATION_SESSION_SETTINGS, type ColumnCodec, type ColumnType, type EncodingOptions, type Encoder } from './envelope';
