export { RolloutError, InvalidRolloutPlanError, ROLLOUT_ERROR_CODES, type RolloutErrorCode, type PlanIssue } from './errors';
export { parseRolloutPlan, parseRolloutFile, loadRolloutFile, type RolloutPlan, type RolloutPlanInput, type RolloutStep, type RolloutChecks, type RolloutFile, type RolloutFileInput } from './options';
export { prometheusQuery, prometheusRange, prometheusSamples, type QueryRange, type QueryScalar, type QuerySamples, type Sample, type Series } from './prometheus';
export { collectStatus, type StatusReport, type StatusSources } from './status';
export { analyse, type Analysis, type AnalysisResult, type CheckOutcome } from './analysis';
export { RolloutStore, type RolloutState, type RolloutStatus, type RolloutEvent } from './store';
export { RolloutController, type RolloutControllerDeps, type FlagWriter } from './controller';
export { createRolloutMetrics, type RolloutMetrics } from './metrics';
export { MigrationConsole, parseConsoleOptions, type ConsoleDeps, type ConsoleOptions, type ConsoleOptionsInput } from './console';
