// The whole local world for the workflows: moto, the EKS and Kubernetes emulators, the Aviatrix
// controller emulator, the DynamoDB tables and the controller secret, and the environment the
// Lambdas read, exactly as CDK would set it (endpoints aside, which the SDK reads by itself).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AssociateRouteTableCommand, CreateRouteTableCommand, CreateSubnetCommand } from '@aws-sdk/client-ec2';
import { CreateClusterCommand, CreateNodegroupCommand, EKSClient } from '@aws-sdk/client-eks';
import { AttachRolePolicyCommand, CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AviatrixEmulator, EmulatorOptions } from './aviatrix-emulator';
import { createStackTables } from './tables';
import { AccountRegion, LocalWorld, startLocalWorld } from './world';
import { WorkflowState } from '../../lambdas/shared/workflow';
import { CONFIG_VARIABLE, DIGEST_VARIABLE, stampConfig } from '../../lambdas/shared/config-stamp';
import { parseConfig } from '../../lib/config';

export const SECRET_NAME = 'aviatrix/controller/api';
export const STATUS_TABLE = 'eks-aviatrix-status';
export const CLAIM_TABLE = 'eks-aviatrix-claims';
export const LEASE_TABLE = 'eks-aviatrix-leases';
export const CONTROLLER_ROLE_ARN = 'arn:aws:iam::123456789012:role/aviatrix-role-app';
/** The role clusters get unless a spec names another: with the managed policies EKS documents for it. */
const CLUSTER_ROLE_NAME = 'eks-cluster';
export const TRANSIT_GATEWAY = 'transit-use1';
/** moto's caller identity: the principal the Lambdas act as in the local world. */
export const RECONCILER_PRINCIPAL = 'arn:aws:iam::123456789012:user/moto';

export interface OnboardingWorld {
  world: LocalWorld;
  controller: AviatrixEmulator;
  controllerUrl: string;
  controllerCaPem: string;
  /** The raw config handed to the Lambdas (cdk.json's "onboarding" shape). */
  config: Record<string, unknown>;
  /**
   * Merges into the config the Lambdas read (ONBOARDING_CONFIG; read again when it changes), validated
   * and stamped as the stack does: a config parseConfig refuses throws here, unchanged.
   */
  setConfig(overrides: Record<string, unknown>): void;
  /** EKS finishes creating the cluster: ACTIVE, with the add-on settings its spec asked for. */
  activateCluster(name: string): void;
  stop(): Promise<void>;
}

export interface OnboardingWorldOptions {
  config?: Record<string, unknown>;
  controller?: EmulatorOptions;
  eks?: Parameters<typeof startLocalWorld>[0] extends infer O ? (O extends { eks?: infer E } ? E : never) : never;
}

export async function startOnboardingWorld(options: OnboardingWorldOptions = {}): Promise<OnboardingWorld> {
  // The Kubernetes-writing functions call private-only endpoints from privateEndpointAccess's groups or CIDRs.
  const privateEndpointCallers = () => {
    const access = config.privateEndpointAccess as { securityGroupIds?: string[]; sourceCidrs?: string[] } | undefined;
    return { securityGroupIds: access?.securityGroupIds ?? [], cidrs: access?.sourceCidrs ?? [] };
  };
  const world = await startLocalWorld({ eks: { ...options.eks, privateEndpointCallers } });
  const controller = new AviatrixEmulator({ ...options.controller, log: world.log });
  const { url, caPem } = await controller.start();
  controller.addGateway({ name: TRANSIT_GATEWAY, kind: 'transit', vpcId: 'vpc-transit0001', privateIp: '10.200.0.10', exclusions: [] });

  const clientConfig = { endpoint: world.motoDirectEndpoint, region: world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const dynamo = new DynamoDBClient(clientConfig);
  await createStackTables(dynamo, { statusTable: STATUS_TABLE, leaseTable: LEASE_TABLE, claimTable: CLAIM_TABLE });
  dynamo.destroy();
  const secrets = new SecretsManagerClient(clientConfig);
  await secrets.send(
    new CreateSecretCommand({ Name: SECRET_NAME, SecretString: JSON.stringify({ username: controller.username, password: controller.password }) }),
  );
  secrets.destroy();
  await createClusterRole(clientConfig, CLUSTER_ROLE_NAME, ['AmazonEKSClusterPolicy', 'AmazonEKSVPCResourceController']);

  const config: Record<string, unknown> = {
    secondaryCidr: '100.64.0.0/16',
    clusterActiveTimeoutSeconds: 600,
    optIn: { mode: 'all' },
    aviatrix: {
      controllerUrl: url,
      credentialsSecretName: SECRET_NAME,
      caBundlePem: caPem,
      verifyTls: true,
      controllerRoleArn: CONTROLLER_ROLE_ARN,
      allowDisableSingleIpSnat: false,
      kubernetesSmartGroups: [],
    },
    ...options.config,
  };
  const restoreEnv = world.applyEnv();
  const previous = { ...process.env };
  // As the stack sets them: the config parseConfig filled in (the construct validates it), stamped.
  const setEnv = (raw: Record<string, unknown>) => {
    Object.assign(process.env, stampConfig(parseConfig(raw)), {
      STATUS_TABLE_NAME: STATUS_TABLE,
      LEASE_TABLE_NAME: LEASE_TABLE,
      CLAIM_TABLE_NAME: CLAIM_TABLE,
      // A fresh deployment: no claim writer of a version before the claim index.
      CLAIM_INDEX_SETTLE_SECONDS: '0',
      RECONCILER_ROLE_ARN: RECONCILER_PRINCIPAL,
    });
  };
  try {
    setEnv(config);
  } catch (error) {
    restoreEnv();
    await controller.stop();
    await world.stop();
    throw error;
  }

  return {
    world,
    controller,
    controllerUrl: url,
    controllerCaPem: caPem,
    config,
    setConfig(overrides) {
      setEnv({ ...config, ...overrides });
      Object.assign(config, overrides);
    },
    activateCluster(name) {
      world.eks.activateCluster(name);
      const seeded = pendingAddonConfiguration.get(name);
      if (seeded) world.eks.setAddonConfiguration(name, 'vpc-cni', JSON.stringify(seeded));
      pendingAddonConfiguration.delete(name);
    },
    async stop() {
      for (const key of [CONFIG_VARIABLE, DIGEST_VARIABLE, 'STATUS_TABLE_NAME', 'LEASE_TABLE_NAME', 'CLAIM_TABLE_NAME', 'CLAIM_INDEX_SETTLE_SECONDS', 'RECONCILER_ROLE_ARN']) {
        if (previous[key] === undefined) delete process.env[key];
      }
      restoreEnv();
      await controller.stop();
      await world.stop();
    },
  };
}

export interface ClusterSpec {
  name: string;
  azs?: string[];
  vpcCidr?: string;
  tags?: Record<string, string>;
  authenticationMode?: 'API' | 'API_AND_CONFIG_MAP' | 'CONFIG_MAP';
  ipFamily?: 'ipv4' | 'ipv6';
  autoMode?: boolean;
  /** false: a private-only API endpoint. */
  endpointPublicAccess?: boolean;
  /** Settings the vpc-cni add-on already has, which onboarding must keep. */
  addonConfiguration?: Record<string, unknown>;
  /** Reuse an existing VPC (with its subnets) instead of creating one. */
  vpc?: Awaited<ReturnType<LocalWorld['createVpc']>>;
  /** Register a spoke gateway (with HA) for the VPC on the controller. */
  spoke?: boolean;
  /** Another account's Region (world.addAccountRegion); default the hub's own. */
  in?: AccountRegion;
  /** The cluster's IAM role (createClusterRole makes one in moto); default eks-cluster. */
  roleName?: string;
}

/** An IAM role for EKS clusters in moto with these AWS managed policies (a role made earlier in the shared moto is reused). */
export async function createClusterRole(clientConfig: object, roleName: string, policies: string[]): Promise<void> {
  const iam = new IAMClient(clientConfig);
  try {
    await iam.send(new CreateRoleCommand({
      RoleName: roleName,
      AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'eks.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    })).catch((error: Error) => {
      if (error.name !== 'EntityAlreadyExists') throw error;
    });
    for (const policy of policies) await iam.send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: `arn:aws:iam::aws:policy/${policy}` }));
  } finally {
    iam.destroy();
  }
}

export interface CreatedCluster {
  name: string;
  vpc: Awaited<ReturnType<LocalWorld['createVpc']>>;
  spokeName: string;
}

let nextSpokeOctet = 0;
const pendingAddonConfiguration = new Map<string, Record<string, unknown>>();

/** A VPC, its spoke gateway pair on the controller, and an EKS cluster in CREATING. */
export async function createCluster(w: OnboardingWorld, spec: ClusterSpec): Promise<CreatedCluster> {
  const where = spec.in ?? w.world;
  const vpc = spec.vpc ?? (await where.createVpc({ ...(spec.azs ? { azs: spec.azs } : {}), ...(spec.vpcCidr ? { cidr: spec.vpcCidr } : {}) }));
  const spokeName = `spoke-${vpc.vpcId}`;
  if (spec.spoke !== false && !w.controller.gateway(spokeName)) {
    const octet = (nextSpokeOctet++ % 240) + 10;
    w.controller.addGateway({
      name: spokeName,
      kind: 'spoke',
      vpcId: vpc.vpcId,
      privateIp: `10.0.250.${octet}`,
      transitName: TRANSIT_GATEWAY,
      ha: { privateIp: `10.0.251.${octet}` },
      snatMode: 'none',
    });
  }
  const eks = spec.in
    ? new EKSClient({ endpoint: spec.in.eks.url, region: spec.in.region, credentials: spec.in.credentials })
    : new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await eks.send(
    new CreateClusterCommand({
      name: spec.name,
      roleArn: `arn:aws:iam::${spec.in?.account ?? w.world.accountId}:role/${spec.roleName ?? CLUSTER_ROLE_NAME}`,
      resourcesVpcConfig: {
        subnetIds: vpc.subnets.map((s) => s.subnetId),
        ...(spec.endpointPublicAccess === false ? { endpointPublicAccess: false, endpointPrivateAccess: true } : {}),
      },
      kubernetesNetworkConfig: { ipFamily: spec.ipFamily ?? 'ipv4' },
      accessConfig: { authenticationMode: spec.authenticationMode ?? 'API_AND_CONFIG_MAP', bootstrapClusterCreatorAdminPermissions: false },
      ...(spec.autoMode ? { computeConfig: { enabled: true } } : {}),
      tags: spec.tags ?? {},
    }),
  );
  // The add-on exists once the cluster is ACTIVE: its settings are seeded then.
  if (spec.addonConfiguration) pendingAddonConfiguration.set(spec.name, spec.addonConfiguration);
  eks.destroy();
  return { name: spec.name, vpc, spokeName };
}

export interface NodegroupSpec {
  cluster: string;
  name: string;
  subnetIds: string[];
  instanceType?: string;
}

/** An EKS managed node group in CREATING, as CreateNodegroup leaves it. */
export async function createNodegroup(w: OnboardingWorld, spec: NodegroupSpec): Promise<void> {
  const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await eks.send(
    new CreateNodegroupCommand({
      clusterName: spec.cluster,
      nodegroupName: spec.name,
      subnets: spec.subnetIds,
      nodeRole: 'arn:aws:iam::123456789012:role/eks-node',
      instanceTypes: [spec.instanceType ?? 't3.medium'],
      scalingConfig: { minSize: 1, maxSize: 3, desiredSize: spec.subnetIds.length },
    }),
  );
  eks.destroy();
}

/** A subnet with its own route table in an existing VPC (for node groups outside the cluster's subnets). */
export async function createSubnet(w: OnboardingWorld, vpcId: string, az: string, cidr: string): Promise<{ subnetId: string; routeTableId: string }> {
  const ec2 = w.world.ec2Direct;
  const { Subnet } = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, AvailabilityZone: az, CidrBlock: cidr }));
  const { RouteTable } = await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }));
  await ec2.send(new AssociateRouteTableCommand({ SubnetId: Subnet!.SubnetId!, RouteTableId: RouteTable!.RouteTableId! }));
  return { subnetId: Subnet!.SubnetId!, routeTableId: RouteTable!.RouteTableId! };
}

/**
 * The workflow state the controller steps receive for `created` once it is ACTIVE: the resolve
 * step's cluster and a pod network on the default secondary CIDR over its subnets.
 */
export function controllerStepState(w: OnboardingWorld, created: CreatedCluster, dryRun: boolean, executionId: string): WorkflowState & { executionId: string } {
  const cluster = w.world.eks.cluster(created.name)!;
  return {
    input: { clusterName: created.name, dryRun, trigger: 'manual' },
    startedAt: '2026-01-01T00:00:00Z',
    executionId,
    resolve: {
      phase: 'ready',
      cluster: {
        name: created.name, arn: cluster.arn as string, status: 'ACTIVE', region: 'us-east-1', accountId: '123456789012',
        vpcId: created.vpc.vpcId, clusterSecurityGroupId: 'sg-1', controlPlaneSecurityGroupIds: [], subnetIds: created.vpc.subnets.map((s) => s.subnetId), tags: {},
      },
    },
    network: {
      dryRun, changes: [], vpcId: created.vpc.vpcId, podCidr: '100.64.0.0/16', podSubnets: [],
      nodeSubnets: created.vpc.subnets.map((s) => ({ subnetId: s.subnetId, availabilityZone: s.az, cidr: s.cidr, routeTableId: s.routeTableId })),
    },
  };
}
