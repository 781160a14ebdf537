import { spawnSync } from 'node:child_process';
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
