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
  /**
   * The process this daemon serves (a test run's private Prometheus serves that run): when it has died without
   * stopping the daemon (kill -9), reapOrphanedDaemons stops the daemon and removes `ownedPaths`.
   */
  owner?: { pid: number; ownedPaths?: string[] };
}

interface OwnerRecord {
  pid: number;
  startTime?: string;
  ownedPaths: string[];
}

function ownerFile(paths: InfraPaths, name: string): string {
  return path.join(paths.pidsDir, `${name}.owner.json`);
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

/** The kernel's start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), to tell a reused pid. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * The pid recorded by `up` for this service, if that very process still runs: the file holds the pid and its
 * start time, so a pid the system has since given to another process is not taken for ours.
 */
export function startedPid(paths: InfraPaths, name: string): number | undefined {
  const file = pidFile(paths, name);
  if (!fs.existsSync(file)) return undefined;
  const [pidText, recordedStart] = fs.readFileSync(file, 'utf8').trim().split(/\s+/);
  const pid = Number(pidText);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && (recordedStart === undefined || processStartTime(pid) === recordedStart)) return pid;
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
    // The reason (ENOENT, EACCES) also arrives as an 'error' event, which must not crash this process.
    child.once('error', () => undefined);
    throw new InfraError('SFG_INFRA_START_FAILED', `${spec.name}: could not spawn ${spec.command} (not found or not executable)`);
  }
  child.unref();
  fs.writeFileSync(pidFile(paths, spec.name), `${child.pid} ${processStartTime(child.pid) ?? ''}`.trim());
  if (spec.owner) {
    const record: OwnerRecord = { pid: spec.owner.pid, startTime: processStartTime(spec.owner.pid), ownedPaths: spec.owner.ownedPaths ?? [] };
    fs.writeFileSync(ownerFile(paths, spec.name), JSON.stringify(record));
  }
  return child.pid;
}

/**
 * Stops every daemon whose owner process is gone (its pid dead, or now another process's) and removes what it
 * owned. A test run killed before its teardown leaves its private Prometheus running; the next run calls this first.
 * Answers the names of the daemons it stopped.
 */
export async function reapOrphanedDaemons(paths: InfraPaths): Promise<string[]> {
  if (!fs.existsSync(paths.pidsDir)) return [];
  const reaped: string[] = [];
  for (const file of fs.readdirSync(paths.pidsDir).filter((entry) => entry.endsWith('.owner.json'))) {
    const name = file.slice(0, -'.owner.json'.length);
    let owner: OwnerRecord;
    try {
      owner = JSON.parse(fs.readFileSync(path.join(paths.pidsDir, file), 'utf8')) as OwnerRecord;
    } catch {
      continue;
    }
    const ownerRuns = isAlive(owner.pid) && (owner.startTime === undefined || processStartTime(owner.pid) === owner.startTime);
    if (ownerRuns) continue;
    if (await stopDaemon(paths, name, 5_000)) reaped.push(name);
    for (const owned of owner.ownedPaths) fs.rmSync(owned, { recursive: true, force: true });
    fs.rmSync(path.join(paths.pidsDir, file), { force: true });
  }
  return reaped;
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
  fs.rmSync(ownerFile(paths, name), { force: true });
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

export interface RetryOptions {
  /** The address the service was tried at, named in the error. */
  address: string;
  timeoutMs: number;
  /** First pause between attempts; it doubles up to maxIntervalMs. */
  intervalMs?: number;
  maxIntervalMs?: number;
  /** The service's log, whose tail the error quotes. */
  logPath?: string;
  /** The process being started: if it exits, waiting stops at once. */
  pid?: number;
  /** Errors worth another attempt (default: all); any other is thrown at once. */
  retryOn?: (error: unknown) => boolean;
}

/**
 * Calls `attempt` until it resolves, pausing with exponential backoff, and returns its value. Past the deadline it
 * throws an error naming the service, its address and the last underlying error (plus the log's tail).
 */
export async function retrying<T>(service: string, attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let pause = options.intervalMs ?? 200;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      return await attempt();
    } catch (error) {
      if (options.retryOn && !options.retryOn(error)) {
        throw new InfraError('SFG_INFRA_START_FAILED', `${service} at ${options.address}: ${describeError(error)}`, { cause: error });
      }
      if (options.pid !== undefined && !isAlive(options.pid)) {
        throw new InfraError('SFG_INFRA_START_FAILED', `${service} at ${options.address} exited during start-up${tail(options.logPath)}`, { cause: error });
      }
      if (Date.now() + pause > deadline) {
        throw new InfraError(
          'SFG_INFRA_START_TIMEOUT',
          `${service} at ${options.address}: not ready after ${((Date.now() - started) / 1000).toFixed(1)} s (${attempts} attempts, deadline ${options.timeoutMs / 1000} s); last error: ${describeError(error)}${tail(options.logPath)}`,
          { retriable: true, cause: error },
        );
      }
    }
    await sleep(pause);
    pause = Math.min(pause * 2, options.maxIntervalMs ?? 2000);
  }
}

function describeError(error: unknown): string {
  // Duck-typed: errors from another realm (a vm context, a worker) are not `instanceof Error` here.
  if (typeof error !== 'object' || error === null || !('message' in error)) return String(error);
  const { code, message, name, errors, cause } = error as Error & { code?: string; errors?: unknown[] };
  const causes = Array.isArray(errors) ? errors.map(describeError) : [];
  const nested = typeof cause === 'object' && cause !== null ? `: ${describeError(cause)}` : '';
  return `${code && !message.includes(code) ? `${code} ` : ''}${message || name}${causes.length ? ` (${causes.join('; ')})` : ''}${nested}`;
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
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore', env: process.env }).status === 0;
}

export async function httpOk(url: string, init: RequestInit = {}, timeoutMs = 2000): Promise<boolean> {
  return httpCheck(url, init, timeoutMs).then(() => true, () => false);
}

/** Resolves when `url` answers 2xx; otherwise throws what went wrong (status, or the connection error). */
export async function httpCheck(url: string, init: RequestInit = {}, timeoutMs = 2000): Promise<void> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
}

/**
 * Runs `work` holding the lock file `lockPath` (created exclusively, holding this process's pid), so two processes
 * never set up the same thing at once. A lock whose holder has died is taken over; waiting past `deadline` (epoch
 * ms) throws, naming `what` and the holder.
 */
export async function withLockFile<T>(lockPath: string, what: string, deadline: number, pollMs: number, work: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  for (;;) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(lockPath, 'utf8').trim() || 'NaN');
      if (!Number.isInteger(holder) || !isAlive(holder)) {
        fs.rmSync(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new InfraError('SFG_INFRA_START_TIMEOUT', `${what}: process ${holder} still holds ${lockPath}`, { retriable: true });
      await sleep(pollMs);
    }
  }
  try {
    return await work();
  } finally {
    fs.rmSync(lockPath, { force: true });
  }
}
