export { ProxyWorkers, type ProxyWorkersOptions, type ProxyWorkersDeps, type WorkerState } from './primary';
export { runProxyWorker, type ProxyWorkerDeps } from './worker';
export { mergeReadiness, mergeMismatches } from './merge';
