import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { InfraError } from './errors';
import type { InfraPaths } from './options';

export interface DaemonSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

function pidFile(paths: InfraPaths, name: string): string {
  return path.join(paths.pidsDir, `${name}.pid`);
}

export function logFile(paths: InfraPaths, name: string): string {
  return path.join(paths.logsDir, `${name}.log`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid recorded by `up` for this service, if that process still runs. */
export function startedPid(paths: InfraPaths, name: string): number | undefined {
  const file = pidFile(paths, name);
  if (!fs.existsSync(file)) return undefined;
  const pid = Number(fs.readFileSync(file, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return pid;
  fs.rmSync(file, { force: true });
  return undefined;
}

/** Starts a detached process whose output goes to .infra/logs/<name>.log and records its pid. */
export function startDaemon(paths: InfraPaths, spec: DaemonSpec): number {
  fs.mkdirSync(paths.logsDir, { recursive: true });
  fs.mkdirSync(paths.pidsDir, { recursive: true });
  const log = fs.openSync(logFile(paths, spec.name), 'a');
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    detached: true,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  if (child.pid === undefined) {
    throw new InfraError('SFG_INFRA_START_FAILED', `${spec.name}: could not spawn ${spec.command}`);
  }
  child.unref();
  fs.writeFileSync(pidFile(paths, spec.name), String(child.pid));
  return child.pid;
}

/** Stops a process that `up` started (SIGTERM, then SIGKILL after graceMs). Returns whether one was running. */
export async function stopDaemon(paths: InfraPaths, name: string, graceMs = 20_000): Promise<boolean> {
  const pid = startedPid(paths, name);
  if (pid === undefined) return false;
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) signalGroup(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
  fs.rmSync(pidFile(paths, name), { force: true });
  return true;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns true; throws a timeout error that names the service and its log. */
export async function waitUntil(
  description: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; logPath?: string; pid?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (options.pid !== undefined && !isAlive(options.pid)) {
      throw new InfraError('SFG_INFRA_START_FAILED', `${description} exited during start-up${tail(options.logPath)}`);
    }
    if (Date.now() > deadline) {
      throw new InfraError(
        'SFG_INFRA_START_TIMEOUT',
        `${description} not ready after ${options.timeoutMs} ms${tail(options.logPath)}`,
        { retriable: true },
      );
    }
    await sleep(options.intervalMs ?? 250);
  }
}

function tail(logPath: string | undefined): string {
  if (!logPath || !fs.existsSync(logPath)) return '';
  const lines = fs.readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-15).join('\n  ');
  return `; see ${logPath}:\n  ${lines}`;
}

export function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export async function httpOk(url: string, init: RequestInit = {}, timeoutMs = 2000): Promise<boolean> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  await response.body?.cancel();
  return response.ok;
}
