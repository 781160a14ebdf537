import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ensureDebianPackage,
  infraPaths,
  mariadbEnvironment,
  mariadbUp,
  reapOrphanedDaemons,
  redmineStartedByInfra,
  wordpressStartedByInfra,
  resolveEnvironment,
  runningPrometheusTargetsDir,
  startPrivatePrometheus,
  up,
  type PrivatePrometheus,
  type ServiceName,
  type ServiceStatus,
} from '../infra';
import { portBelowEphemeralRange } from './helpers/ports';

declare global {
  var stranglerServicesStartedByJest: ServiceStatus['name'][] | undefined;
  var stranglerTestPrometheus: PrivatePrometheus | undefined;
  var stranglerRedmineRunningAtSetup: boolean | undefined;
  var stranglerWordpressRunningAtSetup: boolean | undefined;
}

/**
 * Brings up every real service the integration tests need. Postgres, Kafka and Unleash are shared with whatever
 * runs on this machine (a demo, say): tests use names of their own there. Prometheus is this run's own, unless
 * PROMETHEUS_URL names one, so the tests' series never reach the rules and alerts of a demo's Prometheus.
 * What it started is kept in globals, which jest hands to globalTeardown (same process), so teardown stops only
 * that and concurrent runs never collide.
 * Redmine (examples/redmine) and WordPress (examples/wordpress) are not started here: the tests that need one start
 * it (startRedmine(), startWordpress()), so a run without them pays nothing. Whether infra's already ran is noted, so
 * teardown stops only one this run started.
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const log = (line: string) => process.stderr.write(`[infra] ${line}\n`);
  globalThis.stranglerRedmineRunningAtSetup = redmineStartedByInfra();
  globalThis.stranglerWordpressRunningAtSetup = wordpressStartedByInfra();
  // A run killed before its teardown (Ctrl-C twice, kill -9) left its private Prometheus running: stop it now.
  const reaped = await reapOrphanedDaemons(infraPaths());
  if (reaped.length) log(`stopped what killed test runs left running: ${reaped.join(', ')}`);
  const ownPrometheus = !process.env.PROMETHEUS_URL;
  const shared: ServiceName[] = ownPrometheus ? ['postgres', 'kafka', 'unleash'] : ['postgres', 'kafka', 'unleash', 'prometheus'];
  const services = await up({ services: shared, log });
  globalThis.stranglerServicesStartedByJest = services.filter((service) => service.startedNow).map((service) => service.name);
  // Binlog capture's tests need the machine's MariaDB with a row-based binlog (turned on here when it is off).
  await mariadbUp(mariadbEnvironment(), log);
  // The framework has no Unleash defaults of its own: CLI commands under test find the local server here.
  const environment = resolveEnvironment();
  process.env.UNLEASH_URL ||= environment.unleashUrl;
  process.env.UNLEASH_ADMIN_TOKEN ||= environment.unleashAdminToken;
  process.env.UNLEASH_CLIENT_TOKEN ||= environment.unleashClientToken;
  if (ownPrometheus) {
    const prometheus = await startTestPrometheus(log);
    globalThis.stranglerTestPrometheus = prometheus;
    // Test workers inherit these: testEnv() and registerScrapeTargets use this run's Prometheus.
    process.env.PROMETHEUS_URL = prometheus.url;
    process.env.STRANGLER_PROMETHEUS_TARGETS_DIR = prometheus.targetsDir;
  } else {
    const targetsDir = await runningPrometheusTargetsDir(resolveEnvironment().prometheusUrl).catch(() => undefined);
    if (targetsDir) process.env.STRANGLER_PROMETHEUS_TARGETS_DIR = targetsDir;
  }
  // The console's page is tested in a real headless Chromium: Debian's, driven by playwright-core.
  const chromium = ensureDebianPackage({ command: 'chromium', pkg: 'chromium', purpose: "the migration console's browser test" }, log);
  if (!chromium.available) throw new Error(`the browser test needs Debian's chromium: ${chromium.reason}`);
  const names = [...globalThis.stranglerServicesStartedByJest, ...(ownPrometheus ? ['prometheus (this run only)'] : [])].join(', ') || 'nothing';
  log(`ready in ${Date.now() - started} ms (started: ${names})`);
}

/** A port taken between the check and Prometheus' bind makes it exit at once: then another port is tried. */
async function startTestPrometheus(log: (line: string) => void): Promise<PrivatePrometheus> {
  for (let attempt = 1; ; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-test-prometheus-'));
    try {
      return await startPrivatePrometheus({ name: `prometheus-test-${process.pid}`, port: await portBelowEphemeralRange(), dir, log, ownerPid: process.pid });
    } catch (error) {
      fs.rmSync(dir, { recursive: true, force: true });
      if (attempt === 3 || !/exited during start-up/.test(String(error))) throw error;
    }
  }
}
