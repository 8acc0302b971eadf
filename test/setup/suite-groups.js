// Test files that run together in one jest module registry (test/setup/suite-group.ts): each group's
// entry file, test/groups/<name>.test.ts, runs its members in turn, so what every file of a kind
// loads (the SDK, the handlers and the stand-ins; aws-cdk-lib) is loaded once per group instead of
// once per file. The sequencer (sequencer.js) leaves a member out of a run that also has its group,
// so every test runs once, and a member named alone (`npx jest test/workflow/metrics.test.ts`) still
// runs in a registry of its own. A group costs at most about as much as the costliest single file
// (file-costs.json), so that the two workers can still end together.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

const GROUPS = {
  'test/groups/workflow-1.test.ts': [
    'test/workflow/rollout-safety.test.ts',
    'test/workflow/notifications.test.ts',
    'test/workflow/ha-gateways.test.ts',
  ],
  'test/groups/workflow-2.test.ts': [
    'test/workflow/faults.test.ts',
    'test/workflow/controller-lifecycle.test.ts',
    'test/workflow/egress-ips.test.ts',
    'test/workflow/own-security-groups.test.ts',
  ],
  'test/groups/workflow-3.test.ts': [
    'test/workflow/lifecycle.test.ts',
    'test/workflow/least-privilege.test.ts',
    'test/workflow/log-keys.test.ts',
  ],
  'test/groups/workflow-4.test.ts': [
    'test/workflow/cluster-onboarding.test.ts',
    'test/workflow/multi-account.test.ts',
    'test/workflow/nodegroup-onboarding.test.ts',
  ],
  'test/groups/workflow-5.test.ts': [
    'test/workflow/lease-deadline.test.ts',
    'test/workflow/private-endpoint.test.ts',
    'test/workflow/offboarding.test.ts',
    'test/workflow/smartgroups.test.ts',
    'test/workflow/metrics.test.ts',
    'test/workflow/vpc-lease-scope.test.ts',
  ],
  'test/groups/aviatrix-1.test.ts': [
    'test/aviatrix/snat.test.ts',
    'test/aviatrix/handlers.test.ts',
    'test/aviatrix/client.test.ts',
    'test/aviatrix/exclusion-join.test.ts',
    'test/aviatrix/onboarding.test.ts',
  ],
  'test/groups/aviatrix-2.test.ts': [
    'test/aviatrix/concurrency-property.test.ts',
    'test/aviatrix/lease.test.ts',
    'test/aviatrix/ownership.test.ts',
    'test/aviatrix/claim-index.test.ts',
  ],
  'test/groups/cdk-1.test.ts': [
    'test/cdk/nag.test.ts',
    'test/cdk/app-config.test.ts',
    'test/cdk/stack.test.ts',
    'test/cdk/member-stack.test.ts',
    'test/cdk/construct.test.ts',
    'test/cdk/observability.test.ts',
  ],
  'test/groups/cdk-2.test.ts': [
    'test/permissions/iam-evaluation.test.ts',
    'test/cdk/private-endpoint.test.ts',
    'test/permissions/member-evaluation.test.ts',
    'test/cdk/asl.test.ts',
    'test/cdk/asl-phases.test.ts',
    'test/cdk/bundles.test.ts',
  ],
};

function membersOf(groupFile) {
  const members = GROUPS[groupFile];
  if (!members) throw new Error(`${groupFile} is not a group in test/setup/suite-groups.js; add it there or remove the file`);
  for (const member of members) {
    if (!fs.existsSync(path.join(ROOT, member))) throw new Error(`${member}, a member of ${groupFile}, does not exist; fix test/setup/suite-groups.js`);
  }
  return members;
}

/** The group that runs `file`, if any (both relative to the repository's root). */
function groupOf(file) {
  return Object.keys(GROUPS).find((group) => GROUPS[group].includes(file));
}

module.exports = { ROOT, GROUPS, membersOf, groupOf };
