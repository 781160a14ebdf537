import fs from 'node:fs';
import path from 'node:path';
import { up } from '../infra';

export const STARTED_FILE = path.join(__dirname, '..', '.infra', 'started-by-jest.json');

/** Brings up every real service the integration tests need; remembers what it started so teardown stops only that. */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const services = await up({ log: (line) => process.stderr.write(`[infra] ${line}\n`) });
  const startedNow = services.filter((service) => service.startedNow).map((service) => service.name);
  fs.mkdirSync(path.dirname(STARTED_FILE), { recursive: true });
  fs.writeFileSync(STARTED_FILE, JSON.stringify(startedNow));
  process.stderr.write(`[infra] ready in ${Date.now() - started} ms (started: ${startedNow.join(', ') || 'nothing'})\n`);
}
