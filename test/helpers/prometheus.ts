import fs from 'node:fs';
import path from 'node:path';
import { infraPaths, prometheusTargetsDir } from '../../infra';
import { testEnv, uniqueName } from './env';

/**
 * Registers `targets` (host:port) with the local Prometheus through file_sd, under a unique `testrun` label.
 * Returns the label value and a function that unregisters them.
 */
export function registerScrapeTargets(targets: string[], labels: Record<string, string> = {}): { testrun: string; unregister(): void } {
  const testrun = uniqueName('run');
  const targetsDir = process.env.STRANGLER_PROMETHEUS_TARGETS_DIR ?? prometheusTargetsDir(infraPaths());
  const file = path.join(targetsDir, `${testrun}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify([{ targets, labels: { ...labels, testrun } }]));
  fs.renameSync(tmp, file);
  return { testrun, unregister: () => fs.rmSync(file, { force: true }) };
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export async function promQuery(expression: string): Promise<PromSample[]> {
  const url = new URL('/api/v1/query', testEnv().prometheusUrl);
  url.searchParams.set('query', expression);
  const response = await fetch(url);
  const body = (await response.json()) as { status: string; error?: string; data: { result: PromSample[] } };
  if (body.status !== 'success') throw new Error(`PromQL '${expression}' failed: ${body.error}`);
  return body.data.result;
}

/** Polls `expression` until it returns at least one series, or fails after `timeoutMs`. */
export async function waitForSeries(expression: string, timeoutMs = 30_000): Promise<PromSample[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await promQuery(expression);
    if (result.length) return result;
    if (Date.now() > deadline) throw new Error(`no series for '${expression}' after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
