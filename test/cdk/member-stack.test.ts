// The member stack (lib/member-stack.ts) and the hub side (lib/hub-access.ts) as synthesized:
// deployable as a StackSet (no bootstrap, no asset, no code, no secret, under the TemplateBody
// limit), the hub's own event pattern forwarded to the hub's bus, member roles holding exactly the
// member-account rows of the permission table, cdk-nag clean; and the CDK app producing both
// templates when members are configured.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { stringify } from 'yaml';
import type { Synthesized } from './synth-cache';
import { joinsAsSub } from '../../lib/member-stack';
import { runAppInProcess } from './app-run';
import { synthesized } from './fixtures';
import { HUB_ACCOUNT, HUB_REGION, MEMBER_ACCOUNT, MULTI_ACCOUNT_RAW_CONFIG, ORG_ID, synthesizedHubAccess, synthesizedMember, synthMember } from './member-fixtures';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const WIDEST = { ...MULTI_ACCOUNT_RAW_CONFIG, allowNodeReplacement: true };

function nagFindings({ annotations: a }: Synthesized): string[] {
  return [...a.findError('*', Match.anyValue()), ...a.findWarning('*', Match.anyValue())].map((e) => `${e.id}: ${String(e.entry.data).split('\n')[0]}`);
}

describe('member stack', () => {
  let template: Json;
  beforeAll(() => {
    template = synthesizedMember().json;
  });

  it('needs no bootstrap stack: no parameters, no rules, no asset, no code and no secret', () => {
    const { app, stack } = synthMember(WIDEST);
    const assembly = app.synth();
    const artifact = assembly.getStackByName(stack.stackName);
    const json = Template.fromStack(stack).toJSON();
    expect(json.Parameters).toBeUndefined();
    expect(json.Rules).toBeUndefined(); // DefaultStackSynthesizer's CheckBootstrapVersion
    expect(artifact.assets).toEqual([]);
    expect(artifact.dependencies).toEqual([]);
    const types = new Set(Object.values(json.Resources as Record<string, Json>).map((r) => r.Type as string));
    expect([...types].sort()).toEqual(['AWS::Events::Rule', 'AWS::IAM::Policy', 'AWS::IAM::Role', 'AWS::SQS::Queue', 'AWS::SQS::QueuePolicy']);
  });

  it('stays under CloudFormation\'s 51,200-byte TemplateBody as cdk deploy sends it (YAML) with every switch on', () => {
    const json = synthesizedMember(WIDEST).json;
    // The CLI's own rendering (toYAML in aws-cdk): YAML 1.1, no line wrapping.
    expect(stringify(json, { schema: 'yaml-1.1', lineWidth: 0 }).length).toBeLessThan(51_200);
    expect(JSON.stringify(json).length).toBeLessThan(51_200); // a StackSet's --template-body of the compact JSON
  });

  it('forwards every event the hub\'s CloudTrail rules match to the hub\'s bus, with a role and a dead-letter queue', () => {
    const rules = Object.values(template.Resources as Record<string, Json>).filter((r) => r.Type === 'AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    const [rule] = rules;
    // The hub's rules, one per EKS call: the member's pattern is theirs with every call.
    const hub = synthesized().json;
    const hubPatterns = Object.values(hub.Resources as Record<string, Json>)
      .filter((r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern?.source?.includes('aws.eks'))
      .map((r) => r.Properties.EventPattern);
    expect(hubPatterns.length).toBe(4);
    const eventNames = hubPatterns.flatMap((p) => p.detail.eventName as string[]);
    expect(rule.Properties.EventPattern).toEqual({ ...hubPatterns[0], detail: { ...hubPatterns[0].detail, eventName: eventNames.sort() } });
    const [target] = rule.Properties.Targets;
    expect(target.Arn).toEqual({ 'Fn::Sub': `arn:\${AWS::Partition}:events:${HUB_REGION}:${HUB_ACCOUNT}:event-bus/default` });
    const roleId = target.RoleArn['Fn::GetAtt'][0];
    expect(template.Resources[roleId].Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'events.amazonaws.com' });
    const queueId = target.DeadLetterConfig.Arn['Fn::GetAtt'][0];
    expect(template.Resources[queueId].Type).toBe('AWS::SQS::Queue');
  });

  it('does not forward in the hub\'s own account and Region (the rule would send the bus its own events)', () => {
    expect(template.Conditions.NotTheHubAccountAndRegion).toEqual({
      'Fn::Not': [{ 'Fn::And': [{ 'Fn::Equals': [{ Ref: 'AWS::AccountId' }, HUB_ACCOUNT] }, { 'Fn::Equals': [{ Ref: 'AWS::Region' }, HUB_REGION] }] }],
    });
    const forwarding = Object.values(template.Resources as Record<string, Json>).filter((r) => ['AWS::Events::Rule', 'AWS::SQS::Queue', 'AWS::SQS::QueuePolicy'].includes(r.Type));
    expect(forwarding.length).toBe(3);
    expect(forwarding.every((r) => r.Condition === 'NotTheHubAccountAndRegion')).toBe(true);
    const roles = Object.values(template.Resources as Record<string, Json>).filter((r) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName);
    expect(roles.every((r) => r.Condition === undefined)).toBe(true);
  });

  it.each([
    ['the shipped multi-account config', MULTI_ACCOUNT_RAW_CONFIG, undefined],
    ['every switch on', WIDEST, undefined],
    ['an Organization only, deployed to a known account', { ...MULTI_ACCOUNT_RAW_CONFIG, members: { organizationId: ORG_ID } }, { account: MEMBER_ACCOUNT, region: 'us-east-1' }],
  ])('has no cdk-nag finding nor synth warning: %s', (_name, raw, env) => {
    expect(nagFindings(synthesizedMember(raw, env))).toEqual([]);
  });
});

test('joins of literals and pseudo parameters become Fn::Sub; other joins stay', () => {
  const arn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':eks:', { Ref: 'AWS::Region' }, ':cluster/*']] };
  expect(joinsAsSub({ Resource: [arn] })).toEqual({ Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:eks:${AWS::Region}:cluster/*' }] });
  const withResourceRef = { 'Fn::Join': ['', ['arn:', { Ref: 'Queue' }]] };
  const withDollar = { 'Fn::Join': ['', ['${literal}', { Ref: 'AWS::Region' }]] };
  const withSeparator = { 'Fn::Join': [',', ['a', { Ref: 'AWS::Region' }]] };
  expect(joinsAsSub([withResourceRef, withDollar, withSeparator])).toEqual([withResourceRef, withDollar, withSeparator]);
});

describe('hub access', () => {
  it('adds nothing without members (one account, one Region, as before)', () => {
    const { hub: _hub, members: _members, ...raw } = MULTI_ACCOUNT_RAW_CONFIG;
    const template = synthesizedHubAccess(raw).json;
    const types = Object.values(template.Resources as Record<string, Json>).map((r) => r.Type);
    expect(types.filter((t) => t !== 'AWS::IAM::Role')).toEqual([]);
  });

  it('lets member accounts of the config, or of the Organization, put events on the hub\'s bus', () => {
    const listed = synthesizedHubAccess().template;
    listed.hasResourceProperties('AWS::Events::EventBusPolicy', {
      EventBusName: 'default',
      Statement: {
        Effect: 'Allow',
        Principal: { AWS: [MEMBER_ACCOUNT] },
        Action: 'events:PutEvents',
        Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG_ID } },
      },
    });
    const org = synthesizedHubAccess({ ...MULTI_ACCOUNT_RAW_CONFIG, members: { organizationId: ORG_ID } }).template;
    org.hasResourceProperties('AWS::Events::EventBusPolicy', { Statement: { Principal: '*', Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG_ID } } } });
  });

  it('has no cdk-nag finding', () => {
    expect(nagFindings(synthesizedHubAccess())).toEqual([]);
    expect(nagFindings(synthesizedHubAccess({ ...MULTI_ACCOUNT_RAW_CONFIG, members: { organizationId: ORG_ID } }))).toEqual([]);
  });
});

test('the CDK app synthesizes the hub and the member template when members are configured', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'onboarding-member-'));
  try {
    const result = runAppInProcess({ onboarding: MULTI_ACCOUNT_RAW_CONFIG, allowExampleValues: true, 'aws:cdk:bundling-stacks': [], 'aws:cdk:enable-path-metadata': true }, outdir);
    // cdk-nag reads CfnEventBusPolicy's deprecated `principal` (the hub's bus policy sets `statement`).
    const nagReadsDeprecated = /^\[WARNING\] aws-cdk-lib\.aws_events\.CfnEventBusPolicy#principal is deprecated.*\n\s*this property has been deprecated\n/;
    expect(result.stderr.replace(nagReadsDeprecated, '')).toBe('');
    expect(result.status).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.artifacts)).toEqual(expect.arrayContaining(['EksAviatrixOnboarding', 'EksAviatrixOnboardingMember']));
    const member = JSON.parse(fs.readFileSync(path.join(outdir, 'EksAviatrixOnboardingMember.template.json'), 'utf8'));
    // Construct paths are left out of the member template (its size), even when the CLI asks for them.
    expect(JSON.stringify(member)).not.toContain('aws:cdk:path');
    const entries = Object.values(manifest.artifacts as Record<string, { metadata?: Record<string, { type: string; data: unknown }[]> }>)
      .flatMap((a) => Object.values(a.metadata ?? {}).flat());
    expect(entries.filter((e) => e.type === 'aws:cdk:error' || e.type === 'aws:cdk:warning').map((e) => String(e.data))).toEqual([]);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
