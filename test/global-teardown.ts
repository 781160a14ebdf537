import { down } from '../infra';

export default async function globalTeardown(): Promise<void> {
  const started = globalThis.stranglerServicesStartedByJest ?? [];
  globalThis.stranglerServicesStartedByJest = undefined;
  await globalThis.stranglerTestPrometheus?.stop();
  globalThis.stranglerTestPrometheus = undefined;
  if (started.length) await down({ services: started });
}
