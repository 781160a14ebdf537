import fs from 'node:fs';
import path from 'node:path';
import { UsageError, wantsHelp, type Command } from './command';
import { COMMANDS } from './commands';

/** The installed package's version (package.json next to cli/). */
function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
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
  if (wantsHelp(rest)) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`strangler ${name}: ${error.message}\nRun 'strangler ${name} --help' for usage.`);
      return 2;
    }
    const coded = error as Error & { code?: string };
    console.error(`strangler ${name}: ${coded.code ? `[${coded.code}] ` : ''}${coded.message}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
