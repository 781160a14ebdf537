import fs from 'node:fs';
import { down, type ServiceName } from '../infra';
import { STARTED_FILE } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  if (!fs.existsSync(STARTED_FILE)) return;
  const started = JSON.parse(fs.readFileSync(STARTED_FILE, 'utf8')) as ServiceName[];
  fs.rmSync(STARTED_FILE);
  if (started.length) await down({ services: started });
}
