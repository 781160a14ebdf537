import { spawnSync } from 'node:child_process';
import { InfraError } from './errors';
import { commandExists } from './process';

export type PackageOutcome = { available: true; installedNow: boolean } | { available: false; reason: string };

/**
 * Makes a Debian package's command available: present already, or installed now with apt-get when this process may
 * (root, apt-get on PATH). One log line says what is being done; nothing is installed silently.
 */
export function ensureDebianPackage(
  spec: { command: string; pkg: string; purpose: string; /** What shows the package is there; default: `command` is on PATH. */ present?: () => boolean },
  log: (line: string) => void,
): PackageOutcome {
  const present = spec.present ?? (() => commandExists(spec.command));
  if (present()) return { available: true, installedNow: false };
  if (process.platform !== 'linux' || !commandExists('apt-get')) {
    return { available: false, reason: `${spec.command} not found and apt-get is not available: install ${spec.pkg} yourself` };
  }
  if (process.getuid?.() !== 0) {
    return { available: false, reason: `${spec.command} not found; installing it needs root: sudo apt-get install ${spec.pkg}` };
  }
  log(`${spec.pkg}: not installed; installing Debian's ${spec.pkg} package for ${spec.purpose} (apt-get install ${spec.pkg}, once)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', spec.pkg], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let result = install();
  if (result.status !== 0) {
    // A fresh machine may not have package lists yet.
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
    result = install();
  }
  if (result.status !== 0 || !present()) {
    const output = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n').slice(-5).join(' | ');
    return { available: false, reason: `apt-get install ${spec.pkg} failed (exit ${result.status}): ${output || result.error?.message}` };
  }
  return { available: true, installedNow: true };
}

/**
 * Installs Debian packages with apt-get (`--no-install-recommends`, waiting up to 5 min for dpkg's lock), running
 * `apt-get update` first when the install fails (a fresh machine may have no package lists). Needs root; throws an
 * InfraError naming what to run otherwise. The caller logs what it installs and why.
 */
export function installDebianPackages(owner: string, packages: readonly string[], options: { timeoutMs: number }): void {
  if (process.platform !== 'linux' || !commandExists('apt-get') || !commandExists('dpkg-query')) {
    throw new InfraError('SFG_INFRA_MISSING_TOOL', `${owner}: not installed and apt-get is not available: install Debian's ${packages.join(', ')} yourself`);
  }
  if (process.getuid?.() !== 0) throw new InfraError('SFG_INFRA_MISSING_TOOL', `${owner}: not installed; installing it needs root: sudo apt-get install ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', ...packages], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
  let result = install();
  if (result.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore', timeout: options.timeoutMs });
    result = install();
  }
  if (result.status !== 0) {
    const output = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n').slice(-5).join(' | ');
    throw new InfraError('SFG_INFRA_START_FAILED', `${owner}: apt-get install ${packages.join(' ')} failed (exit ${result.status}): ${output || result.error?.message}`);
  }
}
