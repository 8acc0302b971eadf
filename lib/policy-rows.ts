// One row of the permission table as one inline policy on a role, its wildcards acknowledged for
// cdk-nag with the row's own reason (a role-wide acknowledgement would cover rows of different
// conditions alike).
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { PermissionRow } from './permissions';

export function rowPolicy(scope: Construct, id: string, role: iam.IRole, row: PermissionRow): iam.Policy {
  const policy = new iam.Policy(scope, id, { roles: [role], statements: [rowStatement(row)] });
  const wildcards = rowWildcards(Stack.of(scope), row);
  if (wildcards.length > 0) NagSuppressions.addResourceSuppressions(policy, [{ id: 'AwsSolutions-IAM5', reason: row.reason, appliesTo: wildcards }]);
  return policy;
}

/**
 * All rows of a role as ONE inline policy of a new role, acknowledged once with each wildcard row's
 * Sid and reason: one resource per role instead of one per row keeps a template that must stay
 * under CloudFormation's 51,200-byte TemplateBody (the member stack, deployed without a bucket) small.
 */
export function rowsRole(scope: Construct, id: string, props: Omit<iam.RoleProps, 'inlinePolicies'>, rows: PermissionRow[]): iam.Role {
  const role = new iam.Role(scope, id, { ...props, inlinePolicies: { Rows: new iam.PolicyDocument({ statements: rows.map(rowStatement) }) } });
  const stack = Stack.of(scope);
  const wild = rows.map((row) => ({ row, wildcards: rowWildcards(stack, row) })).filter((w) => w.wildcards.length > 0);
  if (wild.length > 0) {
    NagSuppressions.addResourceSuppressions(role, [{
      id: 'AwsSolutions-IAM5',
      reason: wild.map((w) => `${w.row.sid}: ${w.row.reason}`).join(' '),
      appliesTo: [...new Set(wild.flatMap((w) => w.wildcards))],
    }]);
  }
  return role;
}

function rowStatement(row: PermissionRow): iam.PolicyStatement {
  return new iam.PolicyStatement({ sid: row.sid, actions: row.actions, resources: row.resources, ...(row.conditions ? { conditions: row.conditions } : {}) });
}

function rowWildcards(stack: Stack, row: PermissionRow): string[] {
  return [
    ...row.actions.filter((a) => a.includes('*')).map((a) => `Action::${a}`),
    ...row.resources.filter((r) => r.includes('*')).map((r) => `Resource::${resolveForNag(stack, r)}`),
  ];
}

/** cdk-nag renders pseudo parameters as <AWS::Partition> etc. and a resource Ref as <LogicalId>. */
export function resolveForNag(stack: Stack, value: string): string {
  const resolved = stack.resolve(value) as unknown;
  if (typeof resolved === 'string') return resolved;
  const join = (resolved as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return value;
  return join[1]
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = (part as { Ref?: string }).Ref;
      if (ref) return `<${ref}>`;
      const getAtt = (part as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt'];
      if (getAtt) return `<${getAtt.join('.')}>`;
      return JSON.stringify(part);
    })
    .join(join[0]);
}
