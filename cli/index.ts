import fs from 'node:fs';
import path from 'node:path';
import { UsageError, wantsHelp, type Command } from './command';
import { COMMANDS } from './commands';

/** The package's version: the nearest package.json above this file (cli/ in the repository, dist/cli/ installed). */
function version(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

function overview(commands: Command[]): string {
  const width = Math.max(...commands.map((command) => command.name.length), 4);
  return [
    'Usage: strangler <command> [options]',
    '       strangler --version',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    "Run 'strangler <command> --help' for a command's options.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    console.log(version());
    return 0;
  }
  if (!name || name === 'help' || (wantsHelp([name]) && rest.length === 0)) {
    console.log(overview(COMMANDS));
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    console.error(`strangler: unknown command '${name}' (commands: ${COMMANDS.map((command) => command.name).join(', ')}); run 'strangler --help'`);
    return 2;
  }
  return runCommand(command, rest, `strangler ${name}`);
}

/** Runs one command: --help prints its help, a usage error exits 2 with a pointer to --help, any other error 1. */
export async function runCommand(command: Command, argv: string[], invokedAs: string): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${invokedAs}: ${error.message}\nRun '${invokedAs} --help' for usage.`);
      return 2;
    }
    const coded = error as Error & { code?: string };
    console.error(`${invokedAs}: ${coded.code ? `[${coded.code}] ` : ''}${coded.message}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
