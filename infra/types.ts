import type { OnRequestServiceName, ServiceName } from './options';

export interface ServiceStatus {
  name: ServiceName | OnRequestServiceName;
  address: string;
  healthy: boolean;
  /** A pid file from `infra up` names a live process for this service. */
  startedByUs: boolean;
  /** This very call started it (what a test harness must stop again). */
  startedNow: boolean;
  detail?: string;
}
