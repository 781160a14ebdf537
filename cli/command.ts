import { parseArgs, type ParseArgsConfig } from 'node:util';
import { StranglerError, type ErrorCatalogue, type ErrorCatalogueOf } from '../errors';

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

const CODES = {
  SFG_CLI_USAGE: {
    means: 'The command line is wrong (an unknown option or argument, a missing value, an invalid file it names); exit code 2.',
    fix: 'Run `strangler <command> --help` and correct the command line.',
  },
} as const satisfies ErrorCatalogue;

/** One of the codes of CLI_ERROR_CODES (listed in docs/errors.md); a throw with another code fails the typecheck. */
export type CliErrorCode = keyof typeof CODES;

/** Every CLI error code: what it means and what to do (docs/errors.md is generated from it). */
export const CLI_ERROR_CODES: ErrorCatalogueOf<CliErrorCode> = CODES;

/** A usage problem: printed with a pointer to the command's --help, exit code 2. */
export class UsageError extends StranglerError<CliErrorCode> {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super('SFG_CLI_USAGE', message);
  }
}

export function wantsHelp(argv: string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

export type ParsedCommandArgs<T extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

/**
 * parseArgs (strict, positionals allowed) whose problems are UsageErrors in our words, without node's hints about
 * `--`: an unknown option names itself, and a negative number is said to be one.
 */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T): ParsedCommandArgs<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(usageMessage(error as Error & { code?: string }));
  }
}

function usageMessage(error: Error & { code?: string }): string {
  const quoted = error.message.match(/'([^']+)'/)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      if (quoted && /^-\d/.test(quoted)) return `'${quoted}' is not accepted: negative numbers are not valid here`;
      return `unknown option '${quoted ?? error.message}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return error.message.replace(/\.?\s*To specify.*$/s, '');
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted ?? error.message}'`;
    default:
      return error.message;
  }
}

/** A share between 0 and 1, such as 0.05; `fallback` when the flag is absent. */
export function shareOption(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new UsageError(`--${flag} must be a number from 0 to 1, got '${text}'`);
  }
  return value;
}

/** A flag's value as an integer of at least `min`, or a UsageError naming the flag and what it got. */
export function integerOption(flag: string, text: string | undefined, options: { min: number; fallback?: number }): number {
  if (text === undefined) {
    if (options.fallback === undefined) throw new UsageError(`--${flag} is required`);
    return options.fallback;
  }
  const value = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < options.min) {
    throw new UsageError(`--${flag} must be an integer of at least ${options.min}, got '${text}'`);
  }
  return value;
}

/**
 * Prints `render()` once, or with `watch` redraws it every `intervalMs` (clearing the screen, except for JSON, which
 * is one document per line) until SIGINT or SIGTERM.
 */
export async function printOrWatch(render: () => Promise<string>, options: { watch: boolean; json: boolean; intervalMs: number }): Promise<number> {
  if (!options.watch) {
    process.stdout.write(`${await render()}\n`);
    return 0;
  }
  let stop = false;
  process.once('SIGINT', () => (stop = true));
  process.once('SIGTERM', () => (stop = true));
  while (!stop) {
    const screen = await render();
    process.stdout.write(`${options.json ? '' : '\x1b[2J\x1b[H'}${screen}\n`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
  return 0;
}
