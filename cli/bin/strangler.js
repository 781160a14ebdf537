#!/usr/bin/env node
// `npx strangler <command>`: runs the TypeScript CLI through tsx, so no build step is needed.
require('tsx/cjs');
const { main } = require('../index.ts');

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
