import type { Command } from '../command';
import { backfillCommand } from './backfill';
import { relayCommand } from './relay';
import { verifyCommand } from './verify';

/** Every subcommand, in the order `strangler --help` lists them. */
export const COMMANDS: Command[] = [backfillCommand, verifyCommand, relayCommand];
