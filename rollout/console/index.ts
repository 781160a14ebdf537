export { MigrationConsole, type ConsoleDeps } from './server';
export { parseConsoleOptions, type ConsoleOptions, type ConsoleOptionsInput } from './options';
