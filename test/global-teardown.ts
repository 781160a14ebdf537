import { down, redmineStartedByInfra, stopRedmine, stopWordpress, wordpressStartedByInfra } from '../infra';

export default async function globalTeardown(): Promise<void> {
  const started = globalThis.stranglerServicesStartedByJest ?? [];
  globalThis.stranglerServicesStartedByJest = undefined;
  // A test that needed Redmine started it (startRedmine records a pid file) and left it for the run's other tests.
  if (globalThis.stranglerRedmineRunningAtSetup === false && redmineStartedByInfra()) await stopRedmine();
  globalThis.stranglerRedmineRunningAtSetup = undefined;
  if (globalThis.stranglerWordpressRunningAtSetup === false && wordpressStartedByInfra()) await stopWordpress();
  globalThis.stranglerWordpressRunningAtSetup = undefined;
  await globalThis.stranglerTestPrometheus?.stop();
  globalThis.stranglerTestPrometheus = undefined;
  if (started.length) await down({ services: started });
}
