import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { down, reapOrphanedDaemons, status, type InfraPaths } from '../../infra';
import { isAlive, startDaemon } from '../../infra/process';
import { eventually } from '../helpers';

function tempPaths(): InfraPaths {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-infra-down-'));
  return { stateDir, logsDir: path.join(stateDir, 'logs'), pidsDir: path.join(stateDir, 'pids'), dataDir: path.join(stateDir, 'data'), kafkaJarsDir: path.join(stateDir, 'jars'), kafkaDataDir: path.join(stateDir, 'kafka-data') };
}

/** A process nobody recorded: what `down` must never touch. */
function foreignProcess(): number {
  const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  child.unref();
  return child.pid!;
}

describe('infra down stops only what up started', () => {
  const stray: number[] = [];
  afterAll(() => {
    for (const pid of stray) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('stops a daemon it recorded, leaves a process whose pid a stale file names, and the services this run uses', async () => {
    const paths = tempPaths();
    // "kafka" as `up` starts a daemon: detached, its pid and start time recorded.
    const ours = startDaemon(paths, { name: 'kafka', command: 'sleep', args: ['300'] });
    stray.push(ours);
    expect(fs.readFileSync(path.join(paths.pidsDir, 'kafka.pid'), 'utf8')).toMatch(new RegExp(`^${ours} \\d+$`));
    // "unleash": a pid file left from an earlier boot whose pid now belongs to someone else's process.
    const foreign = foreignProcess();
    stray.push(foreign);
    fs.writeFileSync(path.join(paths.pidsDir, 'unleash.pid'), `${foreign} 1`);
    // "prometheus": no pid file at all, as when the service was already running before `up`.

    const before = await status();
    const stopped = await down({ paths });

    expect(stopped).toEqual(['kafka']);
    await eventually(() => !isAlive(ours), 5_000, 'the recorded daemon gone');
    expect(isAlive(foreign)).toBe(true);
    expect(fs.readdirSync(paths.pidsDir)).toEqual([]);
    // The shared services this test run uses were not started from this state directory and still answer.
    const after = await status();
    expect(after.map(({ name, healthy }) => ({ name, healthy }))).toEqual(before.map(({ name, healthy }) => ({ name, healthy })));
    expect(after.every((service) => service.healthy)).toBe(true);
    expect(await down({ paths })).toEqual([]);
    fs.rmSync(paths.stateDir, { recursive: true, force: true });
  });

  it("stops a daemon whose owner was killed before its teardown, and removes what it owned; a living owner's stays", async () => {
    const paths = tempPaths();
    // Two test runs, each with a private daemon and a folder of its own; the first is killed with -9.
    const killedRun = foreignProcess();
    const livingRun = foreignProcess();
    stray.push(killedRun, livingRun);
    const killedRunsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-orphan-'));
    const orphan = startDaemon(paths, { name: 'prometheus-test-a', command: 'sleep', args: ['300'], owner: { pid: killedRun, ownedPaths: [killedRunsDir] } });
    const kept = startDaemon(paths, { name: 'prometheus-test-b', command: 'sleep', args: ['300'], owner: { pid: livingRun } });
    stray.push(orphan, kept);
    expect(await reapOrphanedDaemons(paths)).toEqual([]);

    process.kill(killedRun, 'SIGKILL');
    await eventually(() => !isAlive(killedRun), 5_000, 'the killed run gone');
    expect(await reapOrphanedDaemons(paths)).toEqual(['prometheus-test-a']);
    expect(isAlive(orphan)).toBe(false);
    expect(fs.existsSync(killedRunsDir)).toBe(false);
    expect(isAlive(kept)).toBe(true);
    expect(fs.readdirSync(paths.pidsDir).sort()).toEqual(['prometheus-test-b.owner.json', 'prometheus-test-b.pid']);
    fs.rmSync(paths.stateDir, { recursive: true, force: true });
  });
});
