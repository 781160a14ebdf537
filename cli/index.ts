import { UsageError, wantsHelp, type Command } from './command';
import { COMMANDS } from './commands';

function overview(commands: Command[]): string {
  const width = Math.max(...commands.map((command) => command.name.length), 4);
  return [
    'Usage: strangler <command> [options]',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    "Run 'strangler <command> --help' for a command's options.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || (wantsHelp([name]) && rest.length === 0)) {
    console.log(overview(COMMANDS));
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    console.error(`strangler: unknown command '${name}'\n\n${overview(COMMANDS)}`);
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
      console.error(`strangler ${name}: ${error.message}\n\n${command.help}`);
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
