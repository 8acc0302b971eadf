#!/usr/bin/env node
// The platform team's CLI (`npx eks-aviatrix --help`): compiles cli/*.ts on the fly with ts-node.
'use strict';
const path = require('node:path');

require('ts-node').register({
  transpileOnly: true,
  project: path.join(__dirname, '..', 'tsconfig.json'),
});
require('../cli/main').runCli();
