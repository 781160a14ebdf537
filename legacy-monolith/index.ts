import type { AppOptionsInput } from '../extracted/common/options';
import { ShopApplication, type ShopApplicationDeps } from './app';
import { MODULE_NAMES } from './modules';

export { ShopApplication, type ShopApplicationDeps } from './app';
export { MODULES, MODULE_NAMES, TEST_CARDS, type ModuleName } from './modules';

export const LEGACY_ORIGIN = 'legacy';
export const LEGACY_DEFAULT_PORT = 3000;

/** The legacy monolith: users, catalogue, payments and orders on one database (demo: `strangler_legacy`). */
export function createMonolith(options: Omit<AppOptionsInput, 'port'> & { port?: number }, deps: ShopApplicationDeps): ShopApplication {
  return new ShopApplication(LEGACY_ORIGIN, MODULE_NAMES, { port: LEGACY_DEFAULT_PORT, ...options }, deps);
}
