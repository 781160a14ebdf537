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
  HandlerError,
} from './errors';
