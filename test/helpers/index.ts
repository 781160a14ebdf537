export { testEnv, uniqueName } from './env';
export { createTestDatabase, type TestDatabase } from './postgres';
export { createTestMysqlDatabase, testMysqlUrl, type TestMysqlDatabase } from './mysql';
export { collectRecords, createUniqueTopic, headersToStrings, testKafka, type CollectedRecord } from './kafka';
export { UnleashAdmin } from './unleash';
export { freePort, portBelowEphemeralRange, portFree } from './ports';
export { promQuery, registerScrapeTargets, waitForSeries, type PromSample } from './prometheus';
export { eventually } from './poll';
export { STRANGLER_BIN, stranglerEnv, TestProcesses, type CommandResult } from './processes';
