import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import FileStorageProvider from 'unleash-client/lib/repository/storage-provider-file';
import { AtomicBackupStorage } from '../../strangler-proxy/flags/backup-storage';

type Backup = { version: number; features: Array<{ name: string; enabled: boolean; description: string }> };

const backupOf = (generation: number): Backup => ({
  version: 2,
  features: Array.from({ length: 2_000 }, (_, i) => ({ name: `flag-${i}`, enabled: true, description: `generation ${generation} `.repeat(20) })),
});

/** Saves `generations` backups while reading the file concurrently; returns what each read saw. */
async function readsDuringSaves(storage: { set(key: string, data: Backup): Promise<void>; get(key: string): Promise<Backup | undefined> }, generations: number) {
  await storage.set('app', backupOf(0));
  const seen = { complete: 0, missing: 0, unparsable: 0 };
  let saving = true;
  const saves = (async () => {
    for (let generation = 1; generation <= generations; generation++) await storage.set('app', backupOf(generation));
    saving = false;
  })();
  while (saving) {
    try {
      const backup = await storage.get('app');
      if (backup?.features.length === 2_000) seen.complete += 1;
      else seen.missing += 1;
    } catch {
      seen.unparsable += 1;
    }
  }
  await saves;
  return seen;
}

describe('AtomicBackupStorage (the proxy’s last known Unleash flags)', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-backup-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  it('never lets a reader see a missing or half-written backup while saves run, where the in-place provider does', async () => {
    const atomic = await readsDuringSaves(new AtomicBackupStorage<Backup>(tempDir()), 150);
    expect(atomic.complete).toBeGreaterThan(0);
    expect({ missing: atomic.missing, unparsable: atomic.unparsable }).toEqual({ missing: 0, unparsable: 0 });

    // The reason it exists: unleash-client's own provider rewrites the file in place.
    let badReads = 0;
    for (let round = 0; round < 5 && badReads === 0; round++) {
      const inPlace = await readsDuringSaves(new FileStorageProvider<Backup>(tempDir()), 150);
      badReads = inPlace.missing + inPlace.unparsable;
    }
    expect(badReads).toBeGreaterThan(0);
  });

  it('uses unleash-client’s file name, leaves no temporary file, and flush() waits for a save in flight', async () => {
    const dir = tempDir();
    const storage = new AtomicBackupStorage<Backup>(dir);
    void storage.set('team/app', backupOf(7));
    await storage.flush();
    expect(fs.readdirSync(dir)).toEqual(['unleash-backup-team_app.json']);
    expect((await new FileStorageProvider<Backup>(dir).get('team/app'))?.features[0]?.description).toContain('generation 7');
    expect(await storage.get('other')).toBeUndefined();
  });
});
