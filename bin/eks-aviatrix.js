#!/usr/bin/env node
// The platform team's CLI (`npx eks-aviatrix --help`): runs the build of cli/ in dist/cli, which
// `npm ci` (the prepare script) or `npm run build:cli` makes.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

// The CLI runs on whatever Node the person has; the SDK's notice about Node 20 is not theirs to act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const main = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write(`eks-aviatrix is not built (${main} is missing): run \`npm run build:cli\` in ${path.dirname(__dirname)}.\n`);
  process.exit(70); // EXIT_INTERNAL (cli/errors.ts)
}
require(main).runCli();
