import { resolveEnvironment, runningPrometheusTargetsDir, up, type ServiceName } from '../infra';

declare global {
  var stranglerServicesStartedByJest: ServiceName[] | undefined;
}

/**
 * Brings up every real service the integration tests need. What it started is kept in a global, which jest
 * hands to globalTeardown (same process), so teardown stops only that and concurrent runs never collide.
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const services = await up({ log: (line) => process.stderr.write(`[infra] ${line}\n`) });
  globalThis.stranglerServicesStartedByJest = services.filter((service) => service.startedNow).map((service) => service.name);
  // Test workers inherit this: registerScrapeTargets writes where the running Prometheus actually looks.
  const targetsDir = await runningPrometheusTargetsDir(resolveEnvironment().prometheusUrl).catch(() => undefined);
  if (targetsDir) process.env.STRANGLER_PROMETHEUS_TARGETS_DIR = targetsDir;
  const names = globalThis.stranglerServicesStartedByJest.join(', ') || 'nothing';
  process.stderr.write(`[infra] ready in ${Date.now() - started} ms (started: ${names})\n`);
}
