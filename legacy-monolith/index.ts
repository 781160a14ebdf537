export { LegacyMonolith, LEGACY_ORIGIN } from './app';
export { monolithOptionsSchema, parseMonolithOptions, type MonolithOptions, type MonolithOptionsInput } from './options';
export { MODULES, MODULE_NAMES, type ModuleName } from './modules';
export { LEGACY_MIGRATIONS } from './data/schema';
export { AGGREGATE_TYPES, findAggregate, saveAggregate, TABLES, type AggregateType, type Order, type OrderItem, type Payment, type Product, type User } from './data/tables';
export { OwnerDelegation, type DelegationOptions } from './delegation';
export { ReplicaWaiter } from './replica-waiter';
