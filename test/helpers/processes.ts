import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { testEnv } from './env';

const run = promisify(execFile);
export const STRANGLER_BIN = path.resolve(__dirname, '../../bin/strangler.js');

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment the `strangler` CLI reads, pointing at this machine's test infrastructure (Kafka, Unleash) and at
 * a proxy's admin API on `adminPort` with `adminToken`; a test adds its own databases, mapping and ports.
 */
export function stranglerEnv(adminPort: number, adminToken: string): NodeJS.ProcessEnv {
  const infra = testEnv();
  return {
    ...process.env,
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    UNLEASH_URL: infra.unleashUrl,
    UNLEASH_CLIENT_TOKEN: infra.unleashClientToken,
    UNLEASH_ADMIN_TOKEN: infra.unleashAdminToken,
    STRANGLER_ADMIN_TOKEN: adminToken,
    STRANGLER_ADMIN_URL: `http://127.0.0.1:${adminPort}`,
  };
}

interface Daemon {
  name: string;
  child: ChildProcess;
  output: () => string;
}

/**
 * The processes an example test runs as an adopter would: `strangler` commands run to completion, and daemons (the
 * CLI's long-running commands, a monolith, a service) kept with the tail of their output. `stopAll()` stops the
 * daemons (SIGTERM, then SIGKILL after 10 s) and prints the output of any that exited early.
 */
export class TestProcesses {
  private readonly daemons: Daemon[] = [];

  /** `cwd` and `env` are read at each start: a test sets them up in its beforeAll. */
  constructor(private readonly defaults: { cwd: () => string; env: () => NodeJS.ProcessEnv }) {}

  /** `strangler <args>`; a non-zero exit is an answer, not a rejection. */
  strangler(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CommandResult> {
    return run(process.execPath, [STRANGLER_BIN, ...args], {
      cwd: this.defaults.cwd(),
      env: { ...this.defaults.env(), ...extraEnv },
      timeout: 120_000,
      maxBuffer: 8 * 1024 * 1024,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: typeof error.code === 'number' ? error.code : -1,
        stdout: error.stdout ?? '',
        stderr: error.stderr ?? '',
      }),
    );
  }

  /** A long-running `strangler <args>` (relay, sync, proxy). */
  stranglerDaemon(name: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): ChildProcess {
    return this.daemon(name, process.execPath, [STRANGLER_BIN, ...args], extraEnv);
  }

  daemon(name: string, command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn(command, args, { cwd: this.defaults.cwd(), env: { ...this.defaults.env(), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.daemons.push({ name, child, output: () => output });
    return child;
  }

  /** The tail of a daemon's output (for a failing expectation's message). */
  output(name: string): string {
    return this.daemons.find((daemon) => daemon.name === name)?.output() ?? '';
  }

  async stopAll(): Promise<void> {
    for (const { name, child, output } of this.daemons) {
      if (child.exitCode !== null || process.env.SHOW_EXAMPLE_OUTPUT) console.error(`${name} (${child.exitCode === null ? 'running' : `exited early, ${child.exitCode}`}):\n${output()}`);
    }
    await Promise.all(
      this.daemons.map(({ child }) =>
        child.exitCode === null && child.signalCode === null
          ? new Promise<void>((resolve) => {
              const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              child.kill('SIGTERM');
            })
          : undefined,
      ),
    );
    this.daemons.length = 0;
  }
}
