import fs from 'node:fs';
import path from 'node:path';
import type { StorageProvider } from 'unleash-client/lib/repository/storage-provider';

/**
 * The last known flags on disk, written so that a reader never sees half a file. unleash-client's own file
 * provider truncates and rewrites in place, so a proxy (re)starting while another instance saves, or after a crash
 * mid-write, found an empty backup and fell back to the bootstrap: routing from an older source than the one it
 * had. Here every save goes to a temporary file that is renamed over the backup, and `flush()` waits for the saves
 * still running, so a stopped provider has finished writing what it last fetched.
 */
export class AtomicBackupStorage<T> implements StorageProvider<T> {
  private readonly pending = new Set<Promise<void>>();
  private sequence = 0;

  constructor(private readonly directory: string) {}

  /** Same file name as unleash-client's provider, so a backup written by either is read by both. */
  fileFor(appName: string): string {
    return path.join(this.directory, `unleash-backup-${appName.replace(/\//g, '_')}.json`);
  }

  set(appName: string, data: T): Promise<void> {
    const write = this.write(this.fileFor(appName), JSON.stringify(data));
    this.pending.add(write);
    return write.finally(() => this.pending.delete(write));
  }

  async get(appName: string): Promise<T | undefined> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.fileFor(appName), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    if (!text.trim()) return undefined;
    return JSON.parse(text) as T;
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private async write(file: string, text: string): Promise<void> {
    this.sequence += 1;
    const temporary = `${file}.${process.pid}.${this.sequence}.tmp`;
    const handle = await fs.promises.open(temporary, 'w');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(temporary, file);
  }
}
