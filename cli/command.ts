/** One `strangler <name>` subcommand. Each lives in cli/commands/<name>.ts and is listed in cli/commands/index.ts. */
export interface Command {
  name: string;
  /** One line for `strangler --help`. */
  summary: string;
  /** Full text for `strangler <name> --help`: usage, arguments, options with defaults, examples. */
  help: string;
  /** Returns the process exit code. argv excludes the command name. */
  run(argv: string[]): Promise<number>;
}

/** A usage problem: printed with the command's help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function wantsHelp(argv: string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}
