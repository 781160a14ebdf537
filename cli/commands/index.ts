import type { Command } from '../command';

/** Every subcommand, in the order `strangler --help` lists them. */
export const COMMANDS: Command[] = [];
