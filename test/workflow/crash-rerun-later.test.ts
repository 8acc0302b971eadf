// Crash and rerun, the node-group and offboarding workflows' rows (crash-rerun-harness.ts says how
// each row is crashed, rerun and redriven). The onboarding workflow's rows: crash-rerun.test.ts.
import { describeRows, NODEGROUP, OFFBOARDED, OFFBOARDING, ONBOARDED, ONBOARDING, reference, ROW_TIMEOUT_MS, ROWS, useCrashWorld } from './crash-rerun-harness';

useCrashWorld();

test('uninterrupted node-group onboarding and offboarding: one of each resource, and none (the references)', async () => {
  const nodegroup = await reference(NODEGROUP);
  // Measured before the node-group run, on the same cluster: the uninterrupted onboarding.
  const onboarded = await reference(ONBOARDING);
  expect(onboarded).toEqual(ONBOARDED);
  // The node group's subnet gets one policy on the spoke and one on the HA gateway.
  expect(nodegroup).toEqual({ ...onboarded, snatPolicies: 5, haSnatPolicies: 5, nodeSubnetPolicies: 1 });
  expect(await reference(OFFBOARDING)).toEqual(OFFBOARDED);
}, ROW_TIMEOUT_MS);

describeRows(ROWS.filter((row) => row.workflow !== ONBOARDING));
