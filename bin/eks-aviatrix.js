#!/usr/bin/env node
// The platform team's CLI (`npx eks-aviatrix --help`): compiles cli/*.ts on the fly with ts-node.
'use strict';
const path = require('node:path');

// The CLI runs on whatever Node the person has; the SDK's notice about Node 20 is not theirs to act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

require('ts-node').register({
  transpileOnly: true,
  project: path.join(__dirname, '..', 'tsconfig.json'),
});
require('../cli/main').runCli();
