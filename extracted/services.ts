import { ShopApplication, type ModuleName, type ShopApplicationDeps } from '../legacy-monolith';
import type { AppOptionsInput } from './common/options';
import type { AggregateType } from './common/aggregates';

export interface ServiceDefinition {
  /** Service name: also the `origin` of its events and the suffix of its demo database `strangler_<name>`. */
  name: ModuleName;
  defaultPort: number;
  /** The aggregate it owns (writes and is the source of truth for once its route is flipped). */
  owns: AggregateType;
  /** Aggregates it keeps replicas of through sync events: its own, plus what its routes reference. */
  replicates: readonly AggregateType[];
}

export function createService(definition: ServiceDefinition, options: Omit<AppOptionsInput, 'port'> & { port?: number }, deps: ShopApplicationDeps): ShopApplication {
  return new ShopApplication(definition.name, [definition.name], { port: definition.defaultPort, ...options }, deps);
}
