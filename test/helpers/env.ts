import { resolveEnvironment, type InfraEnvironment } from '../../infra';

/** Addresses and tokens of the real services, resolved exactly as infra/ resolves them. */
export function testEnv(): InfraEnvironment {
  return resolveEnvironment();
}

let counter = 0;
/** A name unique to this process and moment, safe for databases, topics, groups and flags. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}
