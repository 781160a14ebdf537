#!/usr/bin/env node
// `npx strangler <command>`. Installed from the package, this runs the built CLI in dist/; in a checkout of the
// repository (TypeScript sources present) it runs the sources through tsx, so no build step is needed there.
const fs = require('node:fs');
const path = require('node:path');

const sources = path.join(__dirname, '..', 'cli', 'index.ts');
let cli;
if (fs.existsSync(sources)) {
  require('tsx/cjs');
  cli = require(sources);
} else {
  cli = require('../dist/cli/index.js');
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
