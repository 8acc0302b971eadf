// `npm run world`: the local world, kept running until Ctrl-C, for the real `aws` CLI, the SDK and
// `eks-aviatrix`. It prints the environment to use. A cluster created through its EKS endpoint is
// delivered like CloudTrail would: a CreateCluster event, matched against the stack's rule pattern,
// to the real start-workflow Lambda, which starts the real workflow (as `npm run demo` shows).
// Deleting it delivers DeleteCluster the same way. Clusters become ACTIVE a few seconds after
// CreateCluster.
//
//   npm run world [-- --controller-url https://lab-controller --controller-ca-file ca.pem]
//
// With --controller-url the workflows call that controller instead of the stand-in, with
// AVIATRIX_USERNAME and AVIATRIX_PASSWORD from the environment (its spoke and transit must exist).
// First: the Lambdas' log lines go to the world's CloudWatch Logs, not the terminal.
import { shipCapturedLogs } from './world-logs';
import '../test/setup/environment';
import * as fs from 'fs';
import { randomUUID } from 'crypto';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { EksApiCall, eksApiCallPattern } from '../lib/eks-api-trigger';
import { matchesPattern, renderPattern } from '../test/local-world/event-pattern';
import { deployStackLocally } from '../test/local-world/deployed-stack';
import { OnboardingWorld, SECRET_NAME, startOnboardingWorld, TRANSIT_GATEWAY } from '../test/local-world/onboarding-world';
import { handler as startWorkflow } from '../lambdas/start-workflow/handler';

/** How often the world looks for created and deleted clusters (CloudTrail's delivery is slower). */
const DELIVERY_POLL_MS = 500;
const ACTIVATION_DELAY_MS = 3000;

interface Options {
  controllerUrl?: string;
  controllerCaFile?: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--controller-url') options.controllerUrl = value();
    else if (flag === '--controller-ca-file') options.controllerCaFile = value();
    else throw new Error(`unknown option ${argv[i]} (known: --controller-url URL, --controller-ca-file FILE)`);
  }
  if (options.controllerUrl && !/^https:\/\//.test(options.controllerUrl)) throw new Error(`--controller-url must be an https:// URL, got ${options.controllerUrl}`);
  if (options.controllerCaFile && !options.controllerUrl) throw new Error('--controller-ca-file goes with --controller-url');
  return options;
}

/** Points the workflows at an external controller: its URL and CA in the config, its credentials in the secret. */
async function useExternalController(w: OnboardingWorld, options: Options): Promise<void> {
  const username = process.env.AVIATRIX_USERNAME;
  const password = process.env.AVIATRIX_PASSWORD;
  if (!username || !password) throw new Error('--controller-url needs AVIATRIX_USERNAME and AVIATRIX_PASSWORD in the environment');
  const caBundlePem = options.controllerCaFile ? fs.readFileSync(options.controllerCaFile, 'utf8') : undefined;
  const aviatrix: Record<string, unknown> = { ...(w.config.aviatrix as Record<string, unknown>), controllerUrl: options.controllerUrl };
  if (caBundlePem) aviatrix.caBundlePem = caBundlePem;
  else delete aviatrix.caBundlePem;
  w.setConfig({ aviatrix });
  const secrets = new SecretsManagerClient({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await secrets.send(new PutSecretValueCommand({ SecretId: SECRET_NAME, SecretString: JSON.stringify({ username, password }) }));
  secrets.destroy();
}

function cloudTrailEvent(w: OnboardingWorld, call: EksApiCall, clusterName: string) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.eks',
    account: w.world.accountId,
    time: new Date().toISOString(),
    region: w.world.region,
    resources: [],
    detail: { eventVersion: '1.09', eventSource: 'eks.amazonaws.com', eventName: call, awsRegion: w.world.region, eventID: randomUUID(), requestParameters: { name: clusterName } },
  };
}

/** CloudTrail and the rules: each cluster that appears or goes is one event through the pattern. */
function deliverClusterEvents(w: OnboardingWorld, say: (line: string) => void): () => void {
  const known = new Set(w.world.eks.clusterNames());
  const deliver = async (call: EksApiCall, name: string) => {
    const event = cloudTrailEvent(w, call, name);
    if (!matchesPattern(renderPattern(eksApiCallPattern([call])), event)) return;
    try {
      const started = await startWorkflow(event);
      say(`CloudTrail: ${call} ${name} -> start-workflow started ${started.executionName}`);
    } catch (error) {
      say(`CloudTrail: ${call} ${name} -> start-workflow failed: ${(error as Error).message}`);
    }
  };
  const timer = setInterval(() => {
    const now = new Set(w.world.eks.clusterNames().filter((n) => w.world.eks.cluster(n)?.status !== 'DELETING'));
    for (const name of now) if (!known.has(name)) void deliver('CreateCluster', name);
    for (const name of known) if (!now.has(name)) void deliver('DeleteCluster', name);
    known.clear();
    for (const name of now) known.add(name);
  }, DELIVERY_POLL_MS);
  return () => clearInterval(timer);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const w = await startOnboardingWorld({ eks: { clusterActivationDelayMs: ACTIVATION_DELAY_MS } });
  const stack = await deployStackLocally(w);
  process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = w.world.motoEndpoint;
  const stopShipping = shipCapturedLogs(w.world.motoDirectEndpoint, w.world.region);
  let stopDelivery = () => {};
  const stop = async () => {
    stopDelivery();
    await stopShipping();
    await stack.stop();
    await w.stop();
  };
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      say('Stopping the local world...');
      stop().then(() => process.exit(0), () => process.exit(1));
    });
  }
  try {
    if (options.controllerUrl) await useExternalController(w, options);
    const vpc = await w.world.createVpc({ azs: ['us-east-1a', 'us-east-1b'], name: 'world-vpc' });
    const spokeName = `spoke-${vpc.vpcId}`;
    if (!options.controllerUrl) {
      w.controller.addGateway({ name: spokeName, kind: 'spoke', vpcId: vpc.vpcId, privateIp: '10.0.250.10', transitName: TRANSIT_GATEWAY, ha: { privateIp: '10.0.251.10' }, snatMode: 'none' });
    }
    stopDelivery = deliverClusterEvents(w, say);

    const env: Record<string, string> = {
      AWS_REGION: w.world.region,
      AWS_DEFAULT_REGION: w.world.region, // the aws CLI v1 reads only this one
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      ...Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('AWS_ENDPOINT_URL_') && v).sort() as [string, string][]),
    };
    const subnets = vpc.subnets.map((s) => s.subnetId);
    say('The local world is running (Ctrl-C stops it).');
    say(`  stack ${stack.stackName}; state machines ${Object.values(stack.stateMachineArns).join(', ')}`);
    say(`  VPC ${vpc.vpcId}, node subnets ${vpc.subnets.map((s) => `${s.subnetId} (${s.az})`).join(', ')}`);
    say(options.controllerUrl
      ? `  controller ${options.controllerUrl} (external: its spoke for ${vpc.vpcId} and its transit must exist)`
      : `  controller stand-in ${w.controllerUrl}: spoke ${spokeName} with HA peer ${w.controller.gateway(spokeName)?.haName}, transit ${TRANSIT_GATEWAY}`);
    say('\nIn another shell:');
    for (const [key, value] of Object.entries(env)) say(`export ${key}=${value}`);
    say(`\naws eks create-cluster --name lab-1 --role-arn arn:aws:iam::${w.world.accountId}:role/eks-cluster --resources-vpc-config subnetIds=${subnets.join(',')}`);
    say('npx eks-aviatrix status lab-1');
    say('npx eks-aviatrix logs lab-1');
    say('WORLD READY');
  } catch (error) {
    await stop();
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`world failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
