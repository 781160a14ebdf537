import type { Command } from '../command';
import { backfillCommand } from './backfill';
import { verifyCommand } from './verify';

/** Every subcommand, in the order `strangler --help` lists them. */
export const COMMANDS: Command[] = [backfillCommand, verifyCommand];
