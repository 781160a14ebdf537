import { runCommand } from '../cli';
import { demoCommand } from './demo-command';

/** `npm start` and `npm run demo:traffic`: the case study is the repository's demo, not part of the installed CLI. */
const argv = process.argv.slice(2);
const invokedAs = argv[0] === 'traffic' ? 'npm run demo:traffic' : 'npm start';
runCommand(demoCommand, argv, invokedAs).then((code) => {
  process.exitCode = code;
});
