// Stands in, inside the Lambda bundles only, for modules axios imports but the controller client
// never reaches (see lib/bundling.ts). Reaching one anyway is a bug in lambdas/aviatrix/controller/session.ts:
// it fails loudly, naming the module, instead of quietly doing something else.
'use strict';
module.exports = function unused(name) {
  return function () {
    throw new Error(`${name} is left out of the Lambda bundle (lib/bundling.ts); lambdas/aviatrix/controller/session.ts must not need it`);
  };
};
