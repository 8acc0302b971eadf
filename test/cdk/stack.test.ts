// Template assertions on the synthesized onboarding stack (bundling skipped, see fixtures.ts).
import * as fs from 'fs';
import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../lib/config';
import { openStampedConfig } from '../../lambdas/shared/config-stamp';
import { ALL_FUNCTIONS, CONSTRUCT_ID, KUBE_RECONCILER_ROLE_ID, STATE_MACHINES, STEP_FUNCTIONS } from '../../lib/onboarding-stack';
import { REPO_ROOT, synthesized, TEST_RAW_CONFIG, testConfig } from './fixtures';

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

let template: Template;

/** Renders a CloudFormation value (Fn::Join of strings and pseudo-parameter Refs) as one string. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, any>;
  if (v.Ref) return `<${v.Ref}>`;
  if (v['Fn::GetAtt']) return `<${v['Fn::GetAtt'].join('.')}>`;
  if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(render).join(v['Fn::Join'][0]);
  return JSON.stringify(value);
}

const asList = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

type Statement = { policy: string; roles: string[]; Sid?: string; Action: string[]; Resource: string[]; Condition?: unknown };

function statements(t: Template = template): Statement[] {
  const policies = t.findResources('AWS::IAM::Policy') as Resources;
  return Object.entries(policies).flatMap(([policy, r]) =>
    (r.Properties.PolicyDocument.Statement as any[]).map((s) => ({
      policy,
      roles: (r.Properties.Roles as any[]).map((ref) => ref.Ref as string),
      Sid: s.Sid,
      Action: asList<string>(s.Action),
      Resource: asList<unknown>(s.Resource).map(render),
      Condition: s.Condition,
    })),
  );
}

/** The logical id of the resource of `type` made by the stack-level construct `constructId`. */
function logicalId(type: string, constructId: string, t: Template = template): string {
  const ids = Object.keys(t.findResources(type)).filter((id) => new RegExp(`^${CONSTRUCT_ID}\\w*?${constructId}[0-9A-F]{8}$`).test(id));
  expect(ids).toHaveLength(1);
  return ids[0];
}

/** A logical id without its hash and the construct path (OnboardingFunctionsNotifyRoleXXXXXXXX -> NotifyRole). */
const ownId = (id: string) => id.replace(/[0-9A-F]{8}$/, '').replace(new RegExp(`^${CONSTRUCT_ID}(Functions|Workflows|Triggers|State)`), '');

const fnId = (constructId: string) => logicalId('AWS::Lambda::Function', constructId);
const roleOf = (statement: Statement) => statement.roles;

beforeAll(() => {
  // Without bundling (aws:cdk:bundling-stacks=[], see fixtures.ts): bundling the functions takes
  // seconds and is tested on its own (bundles.test.ts). No timing asserted: on a loaded machine a
  // time limit fails at random.
  template = synthesized().template;
});

describe('EventBridge triggers', () => {
  const apiRules = () =>
    Object.entries(template.findResources('AWS::Events::Rule') as Resources).filter(([, r]) => r.Properties.EventPattern?.source?.[0] === 'aws.eks');

  /** Each target invokes `functionId` with the stack's retry policy and its own SSE-SQS DLQ. */
  function expectFunctionTarget(rule: Resources[string], functionId: string): string {
    const targets = rule.Properties.Targets as any[];
    expect(targets).toHaveLength(1);
    const [target] = targets;
    expect(target.Arn).toEqual({ 'Fn::GetAtt': [functionId, 'Arn'] });
    expect(target.Input).toBeUndefined(); // the whole event
    expect(target.InputTransformer).toBeUndefined();
    expect(target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 8 });
    expect(target.DeadLetterConfig.Arn['Fn::GetAtt'][1]).toBe('Arn');
    const dlq = target.DeadLetterConfig.Arn['Fn::GetAtt'][0] as string;
    const queues = template.findResources('AWS::SQS::Queue') as Resources;
    expect(queues[dlq].Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    return dlq;
  }

  test('one rule per EKS API call (Create/Delete Cluster/Nodegroup), successful CloudTrail calls only', () => {
    const rules = apiRules().map(([, r]) => r);
    expect(rules.map((r) => r.Properties.EventPattern.detail.eventName).sort()).toEqual([
      ['CreateCluster'], ['CreateNodegroup'], ['DeleteCluster'], ['DeleteNodegroup'],
    ]);
    for (const rule of rules) {
      expect(rule.Properties.EventPattern).toEqual({
        source: ['aws.eks'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['eks.amazonaws.com'],
          eventName: rule.Properties.EventPattern.detail.eventName,
          errorCode: [{ exists: false }],
        },
      });
      expect(rule.Properties.State).toBe('ENABLED');
    }
  });

  test('all four target the start-workflow function with retry policy and each its own DLQ', () => {
    const rules = apiRules();
    const dlqs = new Set(rules.map(([, rule]) => expectFunctionTarget(rule, fnId('StartWorkflow'))));
    expect(dlqs.size).toBe(4);
    // EventBridge may invoke it, from these rules only.
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission') as Resources).filter(
      (p) => p.Properties.FunctionName['Fn::GetAtt']?.[0] === fnId('StartWorkflow'),
    );
    expect(permissions.map((p) => p.Properties.SourceArn['Fn::GetAtt'][0]).sort()).toEqual(rules.map(([id]) => id).sort());
    for (const p of permissions) expect(p.Properties).toMatchObject({ Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com' });
  });

  test('the drift-repair schedule uses the configured expression and targets drift-repair with retry and DLQ', () => {
    const scheduled = Object.values(template.findResources('AWS::Events::Rule') as Resources).filter((r) => r.Properties.ScheduleExpression);
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0].Properties.ScheduleExpression).toBe(testConfig().driftSchedule);
    expectFunctionTarget(scheduled[0], fnId('DriftRepair'));

    const cron = 'cron(15 3 * * ? *)';
    const other = synthesized({ config: parseConfig({ ...TEST_RAW_CONFIG, driftSchedule: cron }) }).template;
    other.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: cron });
  });

  test('start-workflow and drift-repair keep invocations that failed inside the function (async on-failure queue)', () => {
    const configs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig') as Resources);
    const byFunction = new Map(configs.map((c) => [c.Properties.FunctionName.Ref as string, c.Properties]));
    expect([...byFunction.keys()].sort()).toEqual([fnId('DriftRepair'), fnId('Notify'), fnId('StartWorkflow')].sort());
    for (const props of byFunction.values()) {
      expect(props).toMatchObject({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 });
      expect(props.DestinationConfig.OnFailure.Destination['Fn::GetAtt'][1]).toBe('Arn');
    }
  });

  test('each DLQ of a rule lets EventBridge (from its rule only) send; every queue denies non-TLS access', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule') as Resources);
    const ruleDlqs = rules.flatMap((r) => (r.Properties.Targets as any[]).map((t) => t.DeadLetterConfig.Arn['Fn::GetAtt'][0] as string));
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy') as Resources);
    const statementsOf = (queueId: string) =>
      policies
        .filter((p) => (p.Properties.Queues as any[]).some((q) => q.Ref === queueId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    for (const queueId of ruleDlqs) {
      expect(statementsOf(queueId)).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Condition: { ArnEquals: { 'aws:SourceArn': expect.anything() } },
        }),
      );
    }
    for (const queueId of Object.keys(template.findResources('AWS::SQS::Queue'))) {
      expect(statementsOf(queueId)).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });
});

describe('state machines', () => {
  const machineIds = () => STATE_MACHINES.map((m) => logicalId('AWS::StepFunctions::StateMachine', m.id));

  test('three, each Standard, logging ALL without execution data, tracing on, the same substitutions', () => {
    const machines = template.findResources('AWS::StepFunctions::StateMachine') as Resources;
    expect(Object.keys(machines).sort()).toEqual(machineIds().sort());
    for (const id of machineIds()) {
      expect(machines[id].Properties).toMatchObject({
        StateMachineType: 'STANDARD',
        LoggingConfiguration: {
          Level: 'ALL',
          IncludeExecutionData: false,
          Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: expect.anything() } }],
        },
        TracingConfiguration: { Enabled: true },
        DefinitionS3Location: expect.anything(),
      });
      const subs = machines[id].Properties.DefinitionSubstitutions as Record<string, unknown>;
      expect(Object.keys(subs).sort()).toEqual([...STEP_FUNCTIONS.map((s) => s.substitution), 'PollIntervalSeconds'].sort());
      expect(subs.PollIntervalSeconds).toBe('30');
    }
  });

  test.each(STATE_MACHINES.map((m) => [m.id, m.file] as const))(
    '%s: its role may invoke exactly the functions its ASL references',
    (id, file) => {
      const asl = fs.readFileSync(path.join(REPO_ROOT, 'state-machines', file), 'utf8');
      const referenced = STEP_FUNCTIONS.filter((s) => asl.includes(`\${${s.substitution}}`));
      expect(referenced.length).toBeGreaterThan(0);
      const machine = (template.findResources('AWS::StepFunctions::StateMachine') as Resources)[logicalId('AWS::StepFunctions::StateMachine', id)];
      const roleId = machine.Properties.RoleArn['Fn::GetAtt'][0];
      const invoke = statements().filter((s) => roleOf(s).includes(roleId) && s.Action.some((a) => a.startsWith('lambda:')));
      expect(invoke).toHaveLength(1);
      expect(invoke[0].Action).toEqual(['lambda:InvokeFunction']);
      expect(invoke[0].Resource.sort()).toEqual(referenced.map((s) => `<${fnId(s.id)}.Arn>`).sort());
      expect(roleOf(invoke[0])).toEqual([roleId]);
    },
  );

  test('no other principal may invoke functions', () => {
    const machineRoles = Object.values(template.findResources('AWS::StepFunctions::StateMachine') as Resources).map(
      (m) => m.Properties.RoleArn['Fn::GetAtt'][0],
    );
    for (const s of statements().filter((st) => st.Action.some((a) => a.startsWith('lambda:')))) {
      expect(machineRoles).toEqual(expect.arrayContaining(roleOf(s)));
    }
  });

  test('outputs: the three machine ARNs and the status table name, under the names the CLI reads', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual(
      ['ClusterStateMachineArn', 'NodegroupStateMachineArn', 'OffboardingStateMachineArn', 'StatusTableName'].sort(),
    );
    expect(outputs.ClusterStateMachineArn.Value).toEqual({ Ref: logicalId('AWS::StepFunctions::StateMachine', 'ClusterOnboarding') });
    expect(outputs.NodegroupStateMachineArn.Value).toEqual({ Ref: logicalId('AWS::StepFunctions::StateMachine', 'NodegroupOnboarding') });
    expect(outputs.OffboardingStateMachineArn.Value).toEqual({ Ref: logicalId('AWS::StepFunctions::StateMachine', 'ClusterOffboarding') });
    expect(outputs.StatusTableName.Value).toEqual({ Ref: logicalId('AWS::DynamoDB::Table', 'StatusTable') });
  });
});

describe('functions', () => {
  test('ten functions: nodejs22.x, arm64, 256 MB, active tracing, own log group', () => {
    const fns = Object.values(template.findResources('AWS::Lambda::Function') as Resources);
    expect(fns).toHaveLength(ALL_FUNCTIONS.length);
    const logGroups = new Set<string>();
    for (const fn of fns) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        MemorySize: 256,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
      });
      expect(fn.Properties.Timeout).toBeGreaterThanOrEqual(60);
      expect(fn.Properties.Timeout).toBeLessThanOrEqual(540);
      logGroups.add(fn.Properties.LoggingConfig.LogGroup.Ref);
    }
    expect(logGroups.size).toBe(fns.length);
  });

  test('one role per function, except the kube reconciler role shared by exactly vpc-cni and nodegroup', () => {
    const fns = template.findResources('AWS::Lambda::Function') as Resources;
    const users = new Map<string, string[]>();
    for (const [id, fn] of Object.entries(fns)) {
      const role = fn.Properties.Role['Fn::GetAtt'][0] as string;
      users.set(role, [...(users.get(role) ?? []), id]);
    }
    const kubeRole = logicalId('AWS::IAM::Role', KUBE_RECONCILER_ROLE_ID);
    expect(users.get(kubeRole)!.sort()).toEqual([fnId('VpcCni'), fnId('Nodegroup')].sort());
    for (const [role, ids] of users) if (role !== kubeRole) expect(ids).toHaveLength(1);
    expect(users.size).toBe(ALL_FUNCTIONS.length - 1);
  });

  test('environment carries the validated config, the table names and the kube reconciler role ARN', () => {
    const kubeRole = logicalId('AWS::IAM::Role', KUBE_RECONCILER_ROLE_ID);
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function') as Resources)) {
      const env = fn.Properties.Environment.Variables;
      expect(parseConfig(JSON.parse(env.ONBOARDING_CONFIG))).toEqual(testConfig());
      // Stamped: the Lambda reads it as it is, without validating it again (lambdas/shared/config-stamp.ts).
      expect(openStampedConfig(env.ONBOARDING_CONFIG, env.ONBOARDING_CONFIG_SHA256)).toEqual({ config: testConfig() });
      for (const key of ['STATUS_TABLE_NAME', 'LEASE_TABLE_NAME', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_LOG_LEVEL']) {
        expect(env[key]).toBeDefined();
      }
      expect(env.RECONCILER_ROLE_ARN).toEqual({ 'Fn::GetAtt': [kubeRole, 'Arn'] });
    }
  });

  test('start-workflow knows the three machines; drift-repair the cluster machine', () => {
    const fns = template.findResources('AWS::Lambda::Function') as Resources;
    const ref = (id: string) => ({ Ref: logicalId('AWS::StepFunctions::StateMachine', id) });
    expect(fns[fnId('StartWorkflow')].Properties.Environment.Variables).toMatchObject({
      CLUSTER_STATE_MACHINE_ARN: ref('ClusterOnboarding'),
      NODEGROUP_STATE_MACHINE_ARN: ref('NodegroupOnboarding'),
      OFFBOARDING_STATE_MACHINE_ARN: ref('ClusterOffboarding'),
    });
    expect(fns[fnId('DriftRepair')].Properties.Environment.Variables).toMatchObject({ CLUSTER_STATE_MACHINE_ARN: ref('ClusterOnboarding') });
  });

  test('no AWS managed policies on any role', () => {
    for (const role of Object.values(template.findResources('AWS::IAM::Role') as Resources)) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
    expect(JSON.stringify(template.toJSON())).not.toMatch(/arn:[^"]*:iam::aws:policy\//);
  });

  test('eks:UpdateAddon only on the vpc-cni add-on ARN pattern', () => {
    const update = statements().filter((s) => s.Action.some((a) => a === 'eks:UpdateAddon' || a === 'eks:*' || a === '*'));
    expect(update).toHaveLength(1);
    expect(update[0].Resource).toEqual(['arn:<AWS::Partition>:eks:<AWS::Region>:<AWS::AccountId>:addon/*/vpc-cni/*']);
  });

  test('access-entry writes are pinned to one principal and one access policy; tags only eks-aviatrix:*', () => {
    const creates = statements().filter((s) => s.Action.includes('eks:CreateAccessEntry'));
    expect(creates).toHaveLength(2);
    // Only on opted-in clusters (cdk.json opts in by tag), STANDARD, tagged as ours; the full
    // evaluation of these conditions is test/cdk/iam-evaluation.test.ts.
    for (const s of creates) {
      expect((s.Condition as any).StringEquals).toEqual({
        'eks:principalArn': expect.anything(),
        'eks:accessEntryType': 'STANDARD',
        'aws:ResourceTag/aviatrix.com/onboard': 'true',
        'aws:RequestTag/eks-aviatrix:managed': 'true',
      });
    }
    const associates = statements().filter((s) => s.Action.includes('eks:AssociateAccessPolicy'));
    expect(associates.map((s) => render((s.Condition as any).StringEquals['eks:policyArn'])).sort()).toEqual([
      'arn:<AWS::Partition>:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
      'arn:<AWS::Partition>:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
    ]);
    const tags = statements().filter((s) => s.Action.includes('eks:TagResource'));
    // Our own keys only: eks-aviatrix:* (StringLike), or named keys of ours (StringEquals, the CNI options record).
    for (const s of tags) {
      const condition = s.Condition as any;
      const keys: string[] = condition['ForAllValues:StringLike']?.['aws:TagKeys'] ?? condition['ForAllValues:StringEquals']?.['aws:TagKeys'] ?? [];
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(key).toMatch(/^eks-aviatrix:/);
    }
    expect(tags.filter((s) => (s.Condition as any)['ForAllValues:StringEquals']).map((s) => (s.Condition as any)['ForAllValues:StringEquals']['aws:TagKeys'])).toEqual([['eks-aviatrix:cni-options']]);
    const entryTags = tags.filter((s) => s.Resource.some((r) => r.includes(':access-entry/')));
    expect(entryTags.map((s) => s.Resource).sort()).toEqual([
      [`arn:<AWS::Partition>:eks:<AWS::Region>:<AWS::AccountId>:access-entry/*/role/111122223333/aviatrix-role-app/*`],
      [`arn:<AWS::Partition>:eks:<AWS::Region>:<AWS::AccountId>:access-entry/*/role/<AWS::AccountId>/<${logicalId('AWS::IAM::Role', KUBE_RECONCILER_ROLE_ID)}>/*`],
    ]);
  });

  test('access entries are deleted only by aviatrix-onboard, and only the controller\'s', () => {
    const deletes = statements().filter((s) => s.Action.includes('eks:DeleteAccessEntry'));
    const entries = (s: Statement) => s.Resource.map((r) => r.replace(/.*:access-entry\//, ''));
    const byRole = Object.fromEntries(deletes.map((s) => [ownId(s.roles[0]), entries(s).sort()]));
    expect(byRole).toEqual({ AviatrixOnboardRole: [`*/role/111122223333/aviatrix-role-app/*`] });
  });

  test('EC2 creates need the managed request tag; tags only on create, or the secondary-cidr key on VPCs', () => {
    const creates = statements().filter((s) => s.Action.some((a) => a === 'ec2:CreateSubnet' || a === 'ec2:CreateSecurityGroup'));
    for (const s of creates) {
      if (s.Resource.every((r) => r.endsWith(':vpc/*'))) continue;
      expect(s.Condition).toEqual({ StringEquals: { 'aws:RequestTag/eks-aviatrix:managed': 'true' } });
    }
    const tags = statements().filter((s) => s.Action.includes('ec2:CreateTags'));
    expect(tags).toHaveLength(2);
    const onVpcs = tags.filter((s) => s.Resource.every((r) => r.endsWith(':vpc/*')));
    expect(onVpcs).toHaveLength(1);
    expect(onVpcs[0].Condition).toEqual({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['eks-aviatrix:secondary-cidr'] }, Null: { 'aws:TagKeys': 'false' } });
    const onCreate = tags.filter((s) => s !== onVpcs[0]);
    expect(onCreate[0].Condition).toEqual({ StringEquals: { 'ec2:CreateAction': ['CreateSubnet', 'CreateSecurityGroup'] } });
  });

  test('EC2 deletes only what carries our tags: DeleteSubnet/DeleteSecurityGroup need eks-aviatrix:managed=true', () => {
    const deletes = statements().filter((s) => s.Action.some((a) => /^ec2:(Delete|Disassociate)/.test(a) || a === 'ec2:*'));
    const subnetSg = deletes.filter((s) => s.Action.some((a) => a === 'ec2:DeleteSubnet' || a === 'ec2:DeleteSecurityGroup'));
    expect(subnetSg.length).toBeGreaterThan(0);
    for (const s of subnetSg) {
      expect(s.Condition).toEqual({ StringEquals: { 'ec2:ResourceTag/eks-aviatrix:managed': 'true' } });
    }
    const cidr = deletes.filter((s) => s.Action.includes('ec2:DisassociateVpcCidrBlock'));
    expect(cidr).toHaveLength(1);
    expect(cidr[0].Resource).toEqual(['arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:vpc/*']);
    expect(cidr[0].Condition).toEqual({ Null: { 'ec2:ResourceTag/eks-aviatrix:secondary-cidr': 'false' } });
    expect(new Set(deletes.flatMap((s) => s.Action))).toEqual(
      new Set(['ec2:DeleteSubnet', 'ec2:DeleteSecurityGroup', 'ec2:DisassociateVpcCidrBlock', 'ec2:DeleteTags']),
    );
    // DeleteTags: only the secondary-cidr key on VPCs that carry it, and the load-balancer role keys on
    // subnets (loadBalancerSubnets); never a key-less "delete all tags".
    const untag = deletes.filter((s) => s.Action.includes('ec2:DeleteTags'));
    expect(untag).toHaveLength(2);
    expect(untag.map((u) => u.Resource)).toEqual([
      ['arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:subnet/*'],
      ['arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:vpc/*'],
    ]);
    expect(untag.map((u) => u.Condition)).toEqual([
      {
        'ForAllValues:StringLike': { 'aws:TagKeys': ['kubernetes.io/role/elb', 'kubernetes.io/role/internal-elb', 'eks-aviatrix:lb-role/*'] },
        Null: { 'aws:TagKeys': 'false' },
      },
      {
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['eks-aviatrix:secondary-cidr'] },
        Null: { 'aws:TagKeys': 'false', 'ec2:ResourceTag/eks-aviatrix:secondary-cidr': 'false' },
      },
    ]);
    const revokes = statements().filter((s) => s.Action.includes('ec2:RevokeSecurityGroupIngress'));
    for (const s of revokes) {
      expect([
        { StringEquals: { 'ec2:ResourceTag/eks-aviatrix:managed': 'true' } },
        { Null: { 'ec2:ResourceTag/aws:eks:cluster-name': 'false' } },
      ]).toContainEqual(s.Condition);
    }
  });

  test('node replacement (an instance refresh) is granted only when config allows it, on EKS node-group ASGs only', () => {
    expect(statements().filter((s) => s.Action.some((a) => a.startsWith('autoscaling:')))).toEqual([]);
    expect(statements().filter((s) => s.Action.includes('eks:UpdateNodegroupVersion'))).toEqual([]);
    const allowed = synthesized({ config: parseConfig({ ...TEST_RAW_CONFIG, allowNodeReplacement: true }) }).template;
    const refreshes = statements(allowed).filter((s) => s.Action.includes('autoscaling:StartInstanceRefresh'));
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0].Resource).toEqual(['arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/eks-*']);
    expect(refreshes[0].Condition).toEqual({ Null: { 'aws:ResourceTag/eks:cluster-name': 'false', 'aws:ResourceTag/eks:nodegroup-name': 'false' } });
    expect(refreshes[0].roles).toEqual([logicalId('AWS::IAM::Role', KUBE_RECONCILER_ROLE_ID, allowed)]);
  });

  test('the kube reconciler role holds the union of the vpc-cni and nodegroup needs', () => {
    const kube = statements().filter((s) => s.roles.includes(logicalId('AWS::IAM::Role', KUBE_RECONCILER_ROLE_ID)));
    const actions = new Set(kube.flatMap((s) => s.Action));
    for (const a of [
      'eks:UpdateAddon', 'eks:CreateAccessEntry', 'eks:AssociateAccessPolicy', 'eks:DescribeNodegroup', 'eks:ListNodegroups',
      'eks:DescribeUpdate', 'ec2:DescribeInstanceTypes', 'dynamodb:PutItem',
    ]) {
      expect(actions).toContain(a);
    }
    // DescribeUpdate follows the vpc-cni add-on update; node replacement is an instance refresh, not an EKS update.
    const describeUpdate = kube.filter((s) => s.Action.includes('eks:DescribeUpdate')).flatMap((s) => s.Resource);
    expect(describeUpdate).not.toContain('arn:<AWS::Partition>:eks:<AWS::Region>:<AWS::AccountId>:nodegroup/*/*/*');
  });

  test('start-workflow starts exactly the three machines; drift-repair the cluster and offboarding machines', () => {
    const machineRef = (id: string) => `<${logicalId('AWS::StepFunctions::StateMachine', id)}>`;
    const starts = statements().filter((s) => s.Action.includes('states:StartExecution'));
    const byRole = (roleId: string) => starts.filter((s) => s.roles.includes(logicalId('AWS::IAM::Role', roleId)));
    expect(byRole('StartWorkflowRole')).toEqual([
      expect.objectContaining({ Action: ['states:StartExecution'], Resource: expect.arrayContaining(STATE_MACHINES.map((m) => machineRef(m.id))) }),
    ]);
    expect(byRole('StartWorkflowRole')[0].Resource).toHaveLength(STATE_MACHINES.length);
    expect(byRole('DriftRepairRole')).toEqual([
      expect.objectContaining({ Action: ['states:StartExecution'], Resource: [machineRef('ClusterOnboarding'), machineRef('ClusterOffboarding')] }),
    ]);
    const startingRoles = new Set(starts.flatMap((s) => s.roles));
    expect(startingRoles).toEqual(new Set([logicalId('AWS::IAM::Role', 'StartWorkflowRole'), logicalId('AWS::IAM::Role', 'DriftRepairRole')]));
  });

  test('secrets: only the configured secret, by name with the random suffix', () => {
    const secrets = statements().filter((s) => s.Action.some((a) => a.startsWith('secretsmanager:')));
    expect(secrets).toHaveLength(2);
    for (const s of secrets) {
      expect(s.Resource).toEqual([
        'arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:aviatrix/controller/api-??????',
      ]);
    }
  });
});

describe('tables', () => {
  test('status table and lease table', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'clusterName', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'leaseId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });
});

describe('table access', () => {
  const dynamo = () => statements().filter((s) => s.Action.some((a) => a.startsWith('dynamodb:')));
  const byTable = (logicalPrefix: string) => dynamo().filter((s) => s.Resource.some((r) => r.startsWith(`<${CONSTRUCT_ID}State${logicalPrefix}`)));
  const roleName = (s: Statement) => ownId(s.roles[0]);
  /** Each role's actions on a table, over all its statements there. */
  const accessTo = (logicalPrefix: string) => {
    const access: Record<string, string[]> = {};
    for (const s of byTable(logicalPrefix)) access[roleName(s)] = [...new Set([...(access[roleName(s)] ?? []), ...s.Action])].sort();
    return access;
  };

  test('status table: record-outcome, cleanup, drift-repair (scan only), pod-network (VPC claims), and the Aviatrix functions (ownership registry)', () => {
    const access = accessTo('StatusTable');
    const ownership = ['dynamodb:GetItem', 'dynamodb:UpdateItem'];
    expect(access).toEqual({
      // Exactly what the code sends: updateStatusRecord (UpdateItem); readStatusRecord (GetItem) and
      // allStatusRecords (Scan) for offboarding and drift repair; the ownership registry's GetItem and UpdateItem.
      RecordOutcomeRole: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      CleanupRole: ['dynamodb:GetItem', 'dynamodb:Scan'],
      DriftRepairRole: ['dynamodb:Scan'],
      PodNetworkRole: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      NotifyRole: ['dynamodb:GetItem'],
      AviatrixOnboardRole: ownership,
      // Scan: who else claims, from every record, until the claim index is built (docs/claim-index.md).
      AviatrixSnatRole: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
    });
  });

  test('claim table: only aviatrix-snat (the ownership registry\'s claim index)', () => {
    const access = accessTo('ClaimTable');
    // Query: who else claims; GetItem: the built marker; PutItem and DeleteItem: index items, in the claim's transaction.
    const claimIndex = ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'];
    expect(access).toEqual({ AviatrixSnatRole: claimIndex });
  });

  test('lease table: aviatrix-snat (gateway leases), and the per-cluster lease for pod-network, the kube reconciler, cleanup and aviatrix-onboard', () => {
    const access = accessTo('LeaseTable');
    const clusterLease = ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
    expect(access).toEqual({
      AviatrixSnatRole: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
      PodNetworkRole: clusterLease,
      [KUBE_RECONCILER_ROLE_ID]: clusterLease,
      CleanupRole: clusterLease,
      AviatrixOnboardRole: clusterLease,
    });
  });

  test('no wildcard DynamoDB actions, no other tables', () => {
    expect(dynamo().flatMap((s) => s.Action).every((a) => !a.includes('*'))).toBe(true);
    expect(dynamo().every((s) => s.Resource.every((r) => new RegExp(`^<${CONSTRUCT_ID}State(StatusTable|LeaseTable|ClaimTable)[0-9A-F]{8}\\.Arn>$`).test(r)))).toBe(true);
  });
});
