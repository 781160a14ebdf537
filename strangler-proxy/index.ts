import type { Logger } from 'pino';
import { FileFlagProvider } from './flags/file';
import type { FlagProvider } from './flags/provider';
import { UnleashFlagProvider } from './flags/unleash';
import type { FlagsConfig } from './options';

export { StranglerProxy, type StranglerProxyOptions, type StranglerProxyDeps, type ReloadResult } from './proxy';
export { parseProxyConfig, loadProxyConfigFile, interpolate, configDigest, workerCount, type ProxyConfig, type ClusterConfig, type RouteConfig, type ShadowConfig } from './options';
export { normalizePath, type PathPolicy, type NormalizedPath } from './path';
export { type FlagProvider, type FlagContext } from './flags/provider';
export { UnleashFlagProvider, type UnleashFlagProviderOptions } from './flags/unleash';
export { FileFlagProvider, type FileFlagProviderOptions } from './flags/file';
export type { ShadowMismatch } from './shadow';
export * from './errors';

/** The flag provider a config's `flags` section asks for. */
export function createFlagProvider(flags: FlagsConfig, deps: { logger: Logger }): FlagProvider {
  return flags.provider === 'file' ? new FileFlagProvider(flags.file, deps) : new UnleashFlagProvider(flags.unleash, deps);
}
export { ProxyAdminClient, type RoutesView, type ConfigState, type ClusterView } from './admin-client';
export { authorised } from './admin';
export { ProxyReplicas, mergeRoutesViews, mergeInventories, type ReplicaState } from './replicas';
export { UnleashAdminClient, UnleashRolloutClient } from './flags/unleash-admin';
export { endpointPattern, type InventoryEntry } from './inventory';
export { ProxyWorkers, runProxyWorker, type ProxyWorkersOptions, type ProxyWorkersDeps, type ProxyWorkerDeps, type WorkerState } from './workers';
