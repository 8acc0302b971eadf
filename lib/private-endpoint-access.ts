// onboarding.privateEndpointAccess: the functions that call the Kubernetes API (the kube reconciler
// role's: vpc-cni and nodegroup) run in subnets that reach the clusters' private endpoints; every
// other function stays out of any VPC. Their security group is the configured one, or one made here
// that allows egress on 443 only (the clusters' endpoints and the AWS APIs; the VPC's DNS resolver
// is not subject to security groups). docs/multi-account.md says what that VPC needs.
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { OnboardingConfig } from './config';

/** Where the Kubernetes-writing functions run (the ids may be tokens: a group made by the stack). */
export interface FunctionNetwork {
  subnetIds: string[];
  securityGroupIds: string[];
}

/**
 * The functions' network, and the config the Lambdas read with the security group filled in (the
 * network step names it as the source of the 443 rule). Undefined without privateEndpointAccess.
 */
export function privateEndpointNetwork(scope: Construct, config: OnboardingConfig): { network: FunctionNetwork; config: OnboardingConfig } | undefined {
  const access = config.privateEndpointAccess;
  if (!access) return undefined;
  const securityGroupIds =
    access.securityGroupIds ??
    [
      new ec2.CfnSecurityGroup(scope, 'KubeApiFunctionsSecurityGroup', {
        vpcId: access.vpcId!, // config requires vpcId without securityGroupIds
        groupDescription: 'eks-aviatrix-onboarding: functions that call the Kubernetes API (egress 443 only)',
        securityGroupEgress: [
          { ipProtocol: 'tcp', fromPort: 443, toPort: 443, cidrIp: '0.0.0.0/0', description: 'HTTPS: private cluster endpoints and AWS API endpoints' },
        ],
        tags: [{ key: 'Name', value: 'eks-aviatrix-kube-api-functions' }],
      }).attrGroupId,
    ];
  return {
    network: { subnetIds: access.subnetIds, securityGroupIds },
    config: { ...config, privateEndpointAccess: { ...access, securityGroupIds } },
  };
}

/**
 * Puts a function in those subnets. Set on the CloudFormation resource, not through `vpc`, which
 * would attach the AWSLambdaVPCAccessExecutionRole managed policy: the role's network-interface
 * rights are rows of lib/permissions.ts, limited to these subnets and groups.
 */
export function attachToNetwork(fn: lambda.Function, network: FunctionNetwork): void {
  (fn.node.defaultChild as lambda.CfnFunction).vpcConfig = { subnetIds: network.subnetIds, securityGroupIds: network.securityGroupIds };
}
