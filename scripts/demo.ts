// `npm run demo`: the local world end to end. A VPC and a 2-AZ EKS cluster are created; the
// CreateCluster CloudTrail event goes through the rule's pattern to the real start-workflow
// Lambda, which starts the real workflow on the local Step Functions; the result is shown. Then the
// CLI runs the workflow again (it must change nothing), plans, and shows the status. Last, a cluster
// the design cannot serve is refused, and the notification a person would receive is printed.
// Between them, a cluster of the same name in a second (member) account and Region is onboarded by
// the same hub through that account's member roles.
import '../test/setup/environment';
import {
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
} from '@aws-sdk/client-ec2';
import { eksApiCallPattern } from '../lib/eks-api-trigger';
import { rulesOf } from '../lambdas/domain/network';
import { matchesPattern, renderPattern } from '../test/local-world/event-pattern';
import { createCluster, OnboardingWorld, startOnboardingWorld, TRANSIT_GATEWAY } from '../test/local-world/onboarding-world';
import { DeployedStack, deployStackLocally } from '../test/local-world/deployed-stack';
import { EmulatedExecution } from '../test/local-world/sfn-emulator';
import { handler as startWorkflow } from '../lambdas/start-workflow/handler';
import { handler as notify } from '../lambdas/notify/handler';
import { startInbox, statusChangeEvent } from '../test/local-world/notification-inbox';
import { main as cli } from '../cli/main';

const CLUSTER = 'demo-prod-a';

const STEP_TITLES: Record<string, string> = {
  ResolveCluster: 'Resolve the cluster (CREATING: its network first; check it can be served)',
  WaitForCluster: 'Cluster not ACTIVE yet: waiting',
  ControllerPreflight: 'Preflight, reads only: controller login, k8s feature, spoke, HA and transit',
  NetworkPreflight: 'Preflight, reads only: the pod network plan (CIDR, quota, routes)',
  ExcludePodCidr: 'Aviatrix: pod CIDR excluded on the transit, before the VPC carries it',
  PodNetwork: 'Secondary CIDR, pod subnets, route tables, pod security group',
  WaitForNetwork: 'Secondary CIDR association settling: waiting',
  AwaitActive: 'Network wired: is the cluster ACTIVE yet?',
  WaitForActive: 'Cluster still CREATING: waiting',
  VpcCni: 'Access entry, cluster security group rules, ENIConfig per AZ, vpc-cni custom networking',
  WaitForCni: 'vpc-cni add-on update in progress: waiting',
  OnboardToController: 'Aviatrix: access entry, cluster onboarding, SmartGroups',
  ConfigureGatewaySnat: 'Aviatrix: SNAT on spoke and HA gateway',
  ExternalSnat: 'vpc-cni external SNAT, now that both gateways SNAT pod traffic',
  WaitForExternalSnat: 'vpc-cni add-on update in progress: waiting',
  RecordOutcome: 'Record the outcome (cluster tags, status table)',
  RecordFailure: 'Record the failure',
};

/** Where a state's result sits in its output: `.` is the output itself (a branch). */
const STEP_RESULTS: Record<string, string> = {
  ExcludePodCidr: 'exclusion',
  PodNetwork: 'network',
  VpcCni: 'cni',
  OnboardToController: '.',
  ConfigureGatewaySnat: '.',
  ExternalSnat: 'externalSnat',
};

const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);

/** The second account: a member of the hub, with the member stack deployed in eu-west-1. */
const MEMBER = { account: '222222222222', region: 'eu-west-1', externalId: 'eks-aviatrix-demo-hub', accessAccount: 'demo-member' };

function cloudTrailEvent(clusterName: string, account = '123456789012', region = 'us-east-1', n = 1) {
  return {
    version: '0',
    id: `c9d6b5a4-demo-0000-0000-00000000000${n}`,
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.eks',
    account,
    time: new Date().toISOString(),
    region,
    resources: [],
    detail: {
      eventVersion: '1.09',
      eventSource: 'eks.amazonaws.com',
      eventName: 'CreateCluster',
      awsRegion: region,
      eventID: `b3f8c2d1-demo-4a1e-9c7b-00000000000${n}`,
      requestParameters: { name: clusterName, version: '1.33' },
    },
  };
}

/** Prints an execution's history as it grows; EKS finishes the cluster while the workflow waits. */
async function follow(stack: DeployedStack, w: OnboardingWorld, executionArn: string): Promise<EmulatedExecution> {
  const started = stack.sfn.execution(executionArn)?.startDate.getTime() ?? Date.now();
  const at = (ms: number) => `${(Math.max(0, ms - started) / 1000).toFixed(1).padStart(5)}s`;
  let seen = 0;
  let activated = false;
  for (;;) {
    const execution = stack.sfn.execution(executionArn);
    if (!execution) throw new Error(`no execution ${executionArn}`);
    for (const event of execution.events.slice(seen)) {
      const entered = (event.stateEnteredEventDetails as { name?: string } | undefined)?.name;
      const exited = event.stateExitedEventDetails as { name?: string; output?: string } | undefined;
      const failed = event.lambdaFunctionFailedEventDetails as { error?: string; cause?: string } | undefined;
      if (entered && STEP_TITLES[entered]) console.log(`  ${at(event.timestamp)}  ▶ ${STEP_TITLES[entered]}`);
      if (entered === 'WaitForActive' && !activated) {
        activated = true;
        // The local EKS finishes creating the cluster while the workflow waits, as EKS would.
        setTimeout(() => {
          w.activateCluster(CLUSTER);
          console.log(`  ${at(Date.now())}  (EKS: cluster ${CLUSTER} is now ACTIVE)`);
        }, 300);
      }
      const step = exited?.name ? STEP_RESULTS[exited.name] : undefined;
      if (exited?.output && step) {
        const output = JSON.parse(exited.output) as Record<string, { changes?: unknown[] } | undefined>;
        const changes = step === '.' ? (output as { changes?: unknown[] }).changes : output[step]?.changes;
        if (Array.isArray(changes)) console.log(`  ${at(event.timestamp)}    ✓ ${changes.length} change(s) so far`);
      }
      if (failed) console.log(`  ${at(event.timestamp)}    ✗ ${failed.error}: ${failed.cause}`);
    }
    seen = execution.events.length;
    if (execution.status !== 'RUNNING') return execution;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function summary(w: OnboardingWorld, vpcId: string, spokeName: string): Promise<void> {
  const ec2 = w.world.ec2Direct;
  const filter = [{ Name: 'vpc-id', Values: [vpcId] }];
  const [vpcs, subnets, tables, groups] = await Promise.all([
    ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })),
    ec2.send(new DescribeSubnetsCommand({ Filters: filter })),
    ec2.send(new DescribeRouteTablesCommand({ Filters: filter })),
    ec2.send(new DescribeSecurityGroupsCommand({ Filters: filter })),
  ]);
  const cluster = w.world.eks.cluster(CLUSTER)!;
  const groupName = (id?: string) => groups.SecurityGroups?.find((g) => g.GroupId === id)?.GroupName ?? id;
  console.log(bold(`\nWhat now exists for ${CLUSTER} (VPC ${vpcId})`));
  console.log('  CIDR blocks:');
  for (const a of vpcs.Vpcs?.[0]?.CidrBlockAssociationSet ?? []) console.log(`    ${a.CidrBlock}  ${a.CidrBlockState?.State}`);
  console.log('  Pod subnets:');
  for (const s of (subnets.Subnets ?? []).filter((s) => s.Tags?.some((t) => t.Key === 'eks-aviatrix:purpose' && t.Value === 'pod-subnet'))) {
    const table = tables.RouteTables?.find((t) => t.Associations?.some((a) => a.SubnetId === s.SubnetId));
    console.log(`    ${s.AvailabilityZone}  ${s.SubnetId}  ${s.CidrBlock}  route table ${table?.RouteTableId}`);
  }
  console.log('  Security groups:');
  for (const g of (groups.SecurityGroups ?? []).filter((g) => g.GroupId === cluster.clusterSecurityGroupId || g.Tags?.some((t) => t.Key === 'eks-aviatrix:cluster'))) {
    console.log(`    ${g.GroupName} (${g.GroupId})`);
    for (const r of rulesOf(g.IpPermissions)) {
      console.log(`      in  ${r.protocol === '-1' ? 'all' : `${r.protocol}/${r.fromPort}`} from ${groupName(r.sourceGroupId) ?? r.cidr}`);
    }
    for (const r of rulesOf(g.IpPermissionsEgress)) console.log(`      out ${r.protocol === '-1' ? 'all' : r.protocol} to ${r.cidr ?? groupName(r.sourceGroupId)}`);
  }
  const addon = w.world.eks.addon(CLUSTER, 'vpc-cni');
  console.log(`  vpc-cni add-on configuration: ${addon?.configurationValues}`);
  console.log('  ENIConfigs:');
  for (const e of w.world.kube.eniConfigs(CLUSTER)) console.log(`    ${e.metadata.name}  subnet ${e.spec.subnet}  security groups ${e.spec.securityGroups.join(', ')}`);
  console.log('  Access entries:');
  for (const entry of w.world.eks.accessEntries(CLUSTER)) {
    const policies = entry.policies.map((p) => p.policyArn.split('/').pop()).join(', ') || 'no access policy';
    const groups = (entry.kubernetesGroups as string[]).length > 0 ? `, Kubernetes groups ${(entry.kubernetesGroups as string[]).join(', ')}` : '';
    console.log(`    ${entry.principalArn}  ${policies}${groups}`);
  }
  console.log('  Aviatrix controller:');
  for (const k of w.controller.k8sClusters()) console.log(`    onboarded Kubernetes cluster ${k.cluster_id}`);
  for (const g of w.controller.smartGroups()) console.log(`    SmartGroup ${g.name}: ${JSON.stringify(g.selector)}`);
  for (const name of [spokeName, w.controller.gateway(spokeName)?.haName].filter((n): n is string => Boolean(n))) {
    console.log(`    SNAT on ${name} (${w.controller.gateway(name)?.private_ip}):`);
    for (const p of w.controller.snatPolicies(name)) {
      console.log(`      ${p.src_ip} -> ${p.dst_ip ?? 'any'} via ${p.connection && p.connection !== 'None' ? `connection ${p.connection}` : `interface ${p.interface}`} as ${p.new_src_ip}`);
    }
  }
  console.log(`    ${TRANSIT_GATEWAY} excluded advertised routes: ${w.controller.exclusions(TRANSIT_GATEWAY).join(', ') || '(none)'}`);
}

/** The same cluster name in the member account: its event, forwarded to the hub's bus, onboards it there. */
async function showMemberAccount(w: OnboardingWorld, stack: DeployedStack): Promise<void> {
  const member = await w.world.addAccountRegion(MEMBER.account, MEMBER.region);
  w.world.accounts.deployMemberStack({ account: MEMBER.account, region: MEMBER.region, roleNamePrefix: 'eks-aviatrix-member', externalId: MEMBER.externalId });
  const created = await createCluster(w, { name: CLUSTER, in: member });
  member.eks.activateCluster(CLUSTER);
  console.log(bold(`\nA second account: cluster ${CLUSTER} in account ${MEMBER.account}, Region ${MEMBER.region} (VPC ${created.vpc.vpcId})`));
  const start = await startWorkflow(cloudTrailEvent(CLUSTER, MEMBER.account, MEMBER.region, 2));
  console.log(`  its CreateCluster event, forwarded by the member stack to the hub's bus, started ${start.executionName}`);
  await stack.sfn.waitForIdle();
  const execution = stack.sfn.executions().find((e) => e.executionArn === start.executionArn)!;
  console.log(`  workflow ${execution.status}: ${JSON.parse(execution.output ?? '{}').changes?.length ?? 0} changes, made through the member roles eks-aviatrix-member-<step>-${MEMBER.region}`);
  if (execution.status !== 'SUCCEEDED') process.exitCode = 1;
  const { Vpcs } = await member.ec2Direct.send(new DescribeVpcsCommand({ VpcIds: [created.vpc.vpcId] }));
  console.log(`  in account ${MEMBER.account}: CIDR blocks ${(Vpcs?.[0]?.CidrBlockAssociationSet ?? []).map((a) => a.CidrBlock).join(', ')}; ENIConfigs ${member.kube.eniConfigs(CLUSTER).map((e) => e.metadata.name).join(', ')}`);
  console.log(`  controller access entry: ${member.eks.accessEntries(CLUSTER).map((e) => String(e.principalArn)).filter((p) => p.includes('aviatrix-role')).join(', ')} (access account ${MEMBER.accessAccount})`);
}

/** A cluster that cannot be served (CONFIG_MAP authentication): refused, and what the topic receives. */
async function showFailureNotification(w: OnboardingWorld, stack: DeployedStack): Promise<void> {
  const name = 'demo-legacy-auth';
  await createCluster(w, { name, authenticationMode: 'CONFIG_MAP' });
  w.activateCluster(name);
  const inbox = await startInbox(w);
  try {
    console.log(bold(`\nA cluster this design cannot serve: $ npx eks-aviatrix run ${name}`));
    const io = { stdout: (text: string) => process.stdout.write(text.replace(/^(?=.)/gm, '  ')), stderr: (text: string) => process.stdout.write(text.replace(/^(?=.)/gm, '  ')), pollMs: 100 };
    if ((await cli(['run', name], io)) !== 1) process.exitCode = 1;
    await stack.sfn.waitForIdle();
    const execution = stack.sfn.executions().find((e) => JSON.parse(e.input).clusterName === name)!;
    await notify(await statusChangeEvent(w.world.region, execution.executionArn));
    for (const message of await inbox.receive()) {
      console.log(bold('\nThe notification topic receives:'));
      console.log(`  Subject: ${message.Subject}`);
      console.log(message.Message.replace(/^/gm, '  '));
    }
  } finally {
    inbox.stop();
  }
}

async function main(): Promise<void> {
  console.log(bold('Starting the local world (moto, EKS, Kubernetes, Aviatrix controller and Step Functions stand-ins)...'));
  const w = await startOnboardingWorld({
    config: {
      hub: { account: '123456789012', region: 'us-east-1' },
      members: { accounts: [MEMBER.account], regions: ['us-east-1', MEMBER.region], externalId: MEMBER.externalId, aviatrixAccounts: { [MEMBER.account]: MEMBER.accessAccount } },
    },
  });
  const stack = await deployStackLocally(w, { waitMs: 500 });
  try {
    const created = await createCluster(w, { name: CLUSTER, addonConfiguration: { env: { WARM_IP_TARGET: '5' } } });
    console.log(`  VPC ${created.vpc.vpcId} with node subnets ${created.vpc.subnets.map((s) => `${s.az} ${s.cidr}`).join(', ')}`);
    console.log(`  spoke gateway ${created.spokeName} (+ HA) attached to ${TRANSIT_GATEWAY}`);
    console.log(`  EKS cluster ${CLUSTER} is CREATING`);

    // The path the deployed stack takes: CloudTrail event -> rule pattern -> start-workflow -> Step Functions.
    const event = cloudTrailEvent(CLUSTER);
    const pattern = renderPattern(eksApiCallPattern(['CreateCluster']));
    if (!matchesPattern(pattern, event)) throw new Error('the CreateCluster event does not match the stack rule pattern');
    const start = await startWorkflow(event);
    console.log(bold(`\nCloudTrail: CreateCluster ${CLUSTER} matches the rule; start-workflow started ${start.executionName}`));
    const first = await follow(stack, w, start.executionArn ?? '');
    if (first.status !== 'SUCCEEDED') throw new Error(`the workflow failed: ${first.error}: ${first.cause}`);
    const outcome = JSON.parse(first.output ?? '{}') as { status: string; changes: { resource: string; action: string; detail: string }[]; warnings: string[] };
    const took = ((first.stopDate?.getTime() ?? Date.now()) - first.startDate.getTime()) / 1000;
    console.log(bold(`\nWorkflow ${outcome.status} in ${took.toFixed(1)} s with ${outcome.changes.length} changes:`));
    for (const c of outcome.changes) console.log(`  ${c.action.padEnd(9)} ${c.resource}: ${c.detail}`);
    for (const warning of outcome.warnings) console.log(`  warning: ${warning}`);
    await summary(w, created.vpc.vpcId, created.spokeName);

    // The platform team's CLI against the same world, as against a deployed stack.
    const io = { stdout: (text: string) => process.stdout.write(text.replace(/^(?=.)/gm, '  ')), stderr: (text: string) => process.stderr.write(text), pollMs: 100 };
    const mark = w.world.log.mark();
    console.log(bold(`\nRunning it again by hand: $ npx eks-aviatrix run ${CLUSTER}`));
    if ((await cli(['run', CLUSTER], io)) !== 0) process.exitCode = 1;
    const writes = w.world.log.writesSince(mark).filter((c) => ['ec2', 'eks', 'kubernetes', 'aviatrix'].includes(c.service));
    console.log(
      `  ${writes.length} write calls to EC2, EKS, Kubernetes and the controller` +
        (writes.length === 0 ? ': no changes.' : `: ${writes.map((c) => `${c.service} ${c.action}`).join(', ')}`),
    );
    if (writes.length > 0) process.exitCode = 1;
    await showMemberAccount(w, stack);
    for (const argv of [['plan', CLUSTER], ['status']]) {
      console.log(bold(`\n$ npx eks-aviatrix ${argv.join(' ')}`));
      if ((await cli(argv, io)) !== 0) process.exitCode = 1;
    }
    await showFailureNotification(w, stack);
  } finally {
    await stack.stop();
    await w.stop();
    console.log(bold('\nLocal world stopped.'));
  }
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
