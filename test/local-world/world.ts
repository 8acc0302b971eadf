// One call that starts the local world: moto (behind its recording proxy), the EKS emulator, the
// Auto Scaling emulator (instance refreshes of node groups' groups) and the Kubernetes API emulator,
// wired together, with the environment the code under test needs.
import {
  AssociateRouteTableCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { AccountDirectory, HUB_ACCOUNT, startAccountRouter } from './accounts';
import { AutoScalingEmulator, AutoScalingEmulatorOptions } from './autoscaling-emulator';
import { CallLog } from './call-log';
import { EksEmulator, EksEmulatorOptions } from './eks-emulator';
import { KubeEmulator, KubeEmulatorOptions } from './kube-emulator';
import { startMoto } from './moto';
import { forgetWarmStateForTests } from '../../lambdas/shared/warm-state';

export interface LocalWorldVpc {
  vpcId: string;
  subnets: { subnetId: string; az: string; cidr: string; routeTableId: string }[];
}

export interface LocalWorld {
  region: string;
  accountId: string;
  log: CallLog;
  motoEndpoint: string;
  motoDirectEndpoint: string;
  /** New CIDR associations answer `associating` to this many DescribeVpcs through the proxy (0 by default). */
  settleCidrAssociationsAfter(reads: number): void;
  eks: EksEmulator;
  autoscaling: AutoScalingEmulator;
  kube: KubeEmulator;
  /**
   * Env for the code under test: AWS_REGION, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID/SECRET ('testing'),
   * AWS_ENDPOINT_URL_EC2/_STS/_SECRETS_MANAGER/_DYNAMODB/_SNS/_IAM (recording proxy), AWS_ENDPOINT_URL_EKS
   * (emulator), AWS_ENDPOINT_URL_AUTO_SCALING (emulator). The kube CA comes from DescribeCluster, not from NODE_EXTRA_CA_CERTS.
   */
  env: Record<string, string>;
  /**
   * Copies env into process.env; returns a function that restores the previous values. Both drop
   * the Lambdas' warm state (clients bound to another world's endpoints), so the suites of one
   * jest module registry each meet their own world.
   */
  applyEnv(): () => void;
  /** EC2 pointed at moto directly (not recorded) for set-up and assertions. */
  ec2Direct: EC2Client;
  /** A VPC (10.0.0.0/16 default) with one private subnet per AZ (default us-east-1a, us-east-1b), each with its own route table. */
  createVpc(opts?: { cidr?: string; azs?: string[]; name?: string }): Promise<LocalWorldVpc>;
  /** Which accounts' member stacks are deployed (their roles assumable) and whose credentials act where. */
  accounts: AccountDirectory;
  /** Another account's Region with its own EKS, Kubernetes and Auto Scaling emulators (moto serves its EC2). */
  addAccountRegion(account: string, region: string): Promise<AccountRegion>;
  stop(): Promise<void>;
}

export interface LocalWorldOptions {
  eks?: EksEmulatorOptions;
  autoscaling?: AutoScalingEmulatorOptions;
  kube?: KubeEmulatorOptions;
}

/** One account's Region: its emulators and an EC2 client acting in it (moto direct, unrecorded). */
export interface AccountRegion {
  account: string;
  region: string;
  eks: EksEmulator;
  autoscaling: AutoScalingEmulator;
  kube: KubeEmulator;
  ec2Direct: EC2Client;
  /** Credentials acting in this account (moto direct), for test set-up and assertions. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  createVpc(opts?: { cidr?: string; azs?: string[]; name?: string }): Promise<LocalWorldVpc>;
}

export async function startLocalWorld(options: LocalWorldOptions = {}): Promise<LocalWorld> {
  const region = 'us-east-1';
  const accountId = HUB_ACCOUNT;
  const log = new CallLog();
  const accounts = new AccountDirectory();
  const moto = await startMoto(log, accounts);
  const stops: (() => Promise<void>)[] = [() => moto.stop()];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const proxy = new URL(moto.endpoint);
    const direct = new URL(moto.directEndpoint);
    let vpcCount = 0;
    /** The emulators of one account's Region, acting in moto as `credentials`. */
    const startAccountRegion = async (account: string, cellRegion: string, credentials: AccountRegion['credentials']): Promise<AccountRegion> => {
      const kube = new KubeEmulator(log, {
        // Token checks go to moto directly, so they are not counted as calls the code under test made.
        stsUrlRewrite: (url) => {
          if (url.host !== proxy.host) return url;
          const rewritten = new URL(url.toString());
          rewritten.host = direct.host;
          return rewritten;
        },
        ...options.kube,
      });
      await kube.start();
      stops.push(() => kube.stop());
      const eks = new EksEmulator({ log, kube, motoDirectEndpoint: moto.directEndpoint, region: cellRegion, accountId: account, credentials }, options.eks);
      await eks.start();
      stops.push(() => eks.stop());
      const autoscaling = new AutoScalingEmulator({ log, eks }, options.autoscaling);
      await autoscaling.start();
      stops.push(() => autoscaling.stop());
      const ec2Direct = new EC2Client({ endpoint: moto.directEndpoint, region: cellRegion, credentials });
      stops.push(async () => ec2Direct.destroy());
      eksBackends.set(`${account}/${cellRegion}`, eks.url);
      autoscalingBackends.set(`${account}/${cellRegion}`, autoscaling.url);
      return {
        account,
        region: cellRegion,
        eks,
        autoscaling,
        kube,
        ec2Direct,
        credentials,
        createVpc: (opts = {}) => createVpcIn(ec2Direct, cellRegion, { ...opts, name: opts.name ?? `local-world-vpc-${++vpcCount}` }),
      };
    };
    const eksBackends = new Map<string, string>();
    const autoscalingBackends = new Map<string, string>();
    const eksRouter = await startAccountRouter(accounts, eksBackends);
    stops.push(() => eksRouter.close());
    const autoscalingRouter = await startAccountRouter(accounts, autoscalingBackends);
    stops.push(() => autoscalingRouter.close());
    const hub = await startAccountRegion(accountId, region, { accessKeyId: 'testing', secretAccessKey: 'testing' });
    const { eks, autoscaling, kube, ec2Direct } = hub;

    const env: Record<string, string> = {
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_ENDPOINT_URL_EC2: moto.endpoint,
      AWS_ENDPOINT_URL_STS: moto.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: moto.endpoint,
      AWS_ENDPOINT_URL_SNS: moto.endpoint,
      AWS_ENDPOINT_URL_IAM: moto.endpoint,
      // Each request reaches the emulator of the account and Region it is signed for (accounts.ts).
      AWS_ENDPOINT_URL_EKS: eksRouter.url,
      // The SDK's key for serviceId "Auto Scaling" (spaces become underscores).
      AWS_ENDPOINT_URL_AUTO_SCALING: autoscalingRouter.url,
      // The hub's own account, as the stack sets it: clusters elsewhere are reached through member roles.
      HUB_ACCOUNT_ID: accountId,
    };

    const world: LocalWorld = {
      region,
      accountId,
      log,
      motoEndpoint: moto.endpoint,
      motoDirectEndpoint: moto.directEndpoint,
      settleCidrAssociationsAfter: (reads) => moto.settleAssociationsAfter(reads),
      eks,
      autoscaling,
      kube,
      env,
      ec2Direct,
      accounts,
      async addAccountRegion(account, cellRegion) {
        // Set-up credentials in that account (moto direct: not subject to the member trust).
        const sts = new STSClient({ endpoint: moto.directEndpoint, region: cellRegion, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
        const { Credentials: c } = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/local-world-admin`, RoleSessionName: 'local-world' }));
        sts.destroy();
        const credentials = { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken! };
        accounts.learn(`<AccessKeyId>${credentials.accessKeyId}</AccessKeyId><Arn>arn:aws:sts::${account}:assumed-role/local-world-admin/local-world</Arn>`);
        return startAccountRegion(account, cellRegion, credentials);
      },
      applyEnv() {
        const previous = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
        // Clear variables that would override the per-service endpoints or credentials.
        for (const k of ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_ENDPOINT_URL']) {
          previous[k] = process.env[k];
          delete process.env[k];
        }
        Object.assign(process.env, env);
        forgetWarmStateForTests();
        return () => {
          for (const [k, v] of Object.entries(previous)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
          }
          forgetWarmStateForTests();
        };
      },
      createVpc: (opts) => hub.createVpc(opts),
      stop: stopAll,
    };
    return world;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** A VPC (10.0.0.0/16 default) with one private subnet per AZ, each with its own route table. */
async function createVpcIn(ec2Direct: EC2Client, region: string, opts: { cidr?: string; azs?: string[]; name: string }): Promise<LocalWorldVpc> {
  const cidr = opts.cidr ?? '10.0.0.0/16';
  const azs = opts.azs ?? [`${region}a`, `${region}b`];
  const name = opts.name;
  const vpc = await ec2Direct.send(
    new CreateVpcCommand({ CidrBlock: cidr, TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'Name', Value: name }] }] }),
  );
  const vpcId = vpc.Vpc!.VpcId!;
  const [base] = cidr.split('/');
  const octets = base.split('.').map(Number);
  const subnets: LocalWorldVpc['subnets'] = [];
  for (const [i, az] of azs.entries()) {
    // /20 private subnets: x.y.0.0/20, x.y.16.0/20, ...
    const subnetCidr = `${octets[0]}.${octets[1]}.${i * 16}.0/20`;
    const subnet = await ec2Direct.send(
      new CreateSubnetCommand({
        VpcId: vpcId,
        CidrBlock: subnetCidr,
        AvailabilityZone: az,
        TagSpecifications: [{ ResourceType: 'subnet', Tags: [{ Key: 'Name', Value: `${name}-private-${az}` }] }],
      }),
    );
    const table = await ec2Direct.send(
      new CreateRouteTableCommand({
        VpcId: vpcId,
        TagSpecifications: [{ ResourceType: 'route-table', Tags: [{ Key: 'Name', Value: `${name}-private-${az}` }] }],
      }),
    );
    const subnetId = subnet.Subnet!.SubnetId!;
    const routeTableId = table.RouteTable!.RouteTableId!;
    await ec2Direct.send(new AssociateRouteTableCommand({ SubnetId: subnetId, RouteTableId: routeTableId }));
    subnets.push({ subnetId, az, cidr: subnetCidr, routeTableId });
  }
  return { vpcId, subnets };
}
