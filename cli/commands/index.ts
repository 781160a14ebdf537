import type { Command } from '../command';
import { backfillCommand } from './backfill';
import { conflictsCommand } from './conflicts';
import { consoleCommand } from './console';
import { explainCommand } from './explain';
import { flipCommand } from './flip';
import { proxyCommand } from './proxy';
import { relayCommand } from './relay';
import { rolloutCommand } from './rollout';
import { routesCommand } from './routes';
import { statusCommand } from './status';
import { syncCommand } from './sync';
import { topicsCommand } from './topics';
import { verifyCommand } from './verify';

/** Every subcommand, in the order `strangler --help` lists them. */
export const COMMANDS: Command[] = [backfillCommand, verifyCommand, syncCommand, conflictsCommand, relayCommand, topicsCommand, proxyCommand, routesCommand, statusCommand, flipCommand, rolloutCommand, consoleCommand, explainCommand];
