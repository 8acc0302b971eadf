// Turns whatever started the workflow (a CloudTrail event from EventBridge, or a manual
// {"clusterName": ..., "account"?, "region"?} or {"clusterArn": ...} from the console or the CLI)
// into the one WorkflowInput shape. The cluster's account and Region travel in it only when they
// are not the hub's own (lambdas/shared/target.ts).
import { OnboardingError } from '../shared/errors';
import { CLUSTER_ARN, targetOf } from '../shared/target';
import { WorkflowInput } from '../shared/workflow';

const EKS_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const HANDLED_EVENTS = new Set(['CreateCluster', 'CreateNodegroup', 'DeleteCluster', 'DeleteNodegroup']);
const MANUAL_KEYS = new Set(['clusterName', 'clusterArn', 'account', 'region', 'nodegroupName', 'dryRun', 'trigger', 'eventId']);
const ACCOUNT_ID = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

type Raw = Record<string, unknown>;

const isObject = (value: unknown): value is Raw => value !== null && typeof value === 'object' && !Array.isArray(value);

function invalid(message: string): OnboardingError {
  return new OnboardingError('InvalidInput', message);
}

/** The account and Region keys of the input: absent when they are the hub's own. */
function located(account: unknown, region: unknown, source: string): { account?: string; region?: string } {
  if (account !== undefined && (typeof account !== 'string' || !ACCOUNT_ID.test(account))) {
    throw invalid(`${source}: account ${JSON.stringify(account)} is not a 12-digit AWS account id`);
  }
  if (region !== undefined && (typeof region !== 'string' || !REGION.test(region))) {
    throw invalid(`${source}: region ${JSON.stringify(region)} is not an AWS Region name such as "eu-west-1"`);
  }
  const target = targetOf(account as string | undefined, region as string | undefined);
  return target ? { account: target.account, region: target.region } : {};
}

function checkName(value: unknown, what: string, source: string): string {
  if (typeof value === 'string' && EKS_NAME.test(value)) return value;
  throw invalid(`${source}: ${what} ${JSON.stringify(value)} is not a valid EKS name (letters, digits, - and _, starting with a letter or digit, at most 100)`);
}

export function normalizeInput(raw: unknown): WorkflowInput {
  if (!isObject(raw)) {
    throw invalid(`workflow input must be a JSON object such as {"clusterName": "prod-a"}, got ${JSON.stringify(raw)}`);
  }
  if ('detail-type' in raw || 'detail' in raw) return fromCloudTrailEvent(raw);
  return fromManualInput(raw);
}

function fromCloudTrailEvent(event: Raw): WorkflowInput {
  const id = typeof event.id === 'string' ? event.id : 'unknown';
  const source = `event ${id}`;
  const detail = event.detail;
  if (event['detail-type'] !== 'AWS API Call via CloudTrail' || !isObject(detail)) {
    throw invalid(`${source} is not an "AWS API Call via CloudTrail" event with a detail object; start the workflow with {"clusterName": "..."} instead`);
  }
  const eventName = detail.eventName;
  if (detail.eventSource !== 'eks.amazonaws.com' || typeof eventName !== 'string' || !HANDLED_EVENTS.has(eventName)) {
    throw invalid(`${source} is ${String(detail.eventSource)} ${String(eventName)}; this workflow handles eks.amazonaws.com ${[...HANDLED_EVENTS].join(', ')}`);
  }
  const params = isObject(detail.requestParameters) ? detail.requestParameters : {};
  // CloudTrail has recorded the cluster as requestParameters.name; older documentation shows clusterName.
  const clusterValue = params.name ?? params.clusterName;
  if (detail.errorCode !== undefined) {
    throw invalid(
      `${source} records a failed ${eventName} of cluster ${JSON.stringify(clusterValue)} ` +
        `(errorCode ${String(detail.errorCode)}); there is nothing to onboard`,
    );
  }
  const clusterName = checkName(clusterValue, 'requestParameters.name', source);
  const nodegroupValue = params.nodegroupName;
  const eventId = typeof detail.eventID === 'string' ? detail.eventID : id;
  return {
    clusterName,
    // The account and Region the call was made in: a member's events keep theirs on the hub's bus.
    ...located(event.account, event.region, source),
    ...(nodegroupValue !== undefined ? { nodegroupName: checkName(nodegroupValue, 'requestParameters.nodegroupName', source) } : {}),
    dryRun: false,
    trigger: eventName,
    eventId,
  };
}

function fromManualInput(input: Raw): WorkflowInput {
  const unknown = Object.keys(input).filter((key) => !MANUAL_KEYS.has(key));
  if (unknown.length > 0) {
    throw invalid(`workflow input has unknown keys ${unknown.join(', ')}; allowed are ${[...MANUAL_KEYS].join(', ')}`);
  }
  const { clusterName, ...where } = clusterOf(input);
  if (input.dryRun !== undefined && typeof input.dryRun !== 'boolean') {
    throw invalid(`workflow input: dryRun must be true or false, got ${JSON.stringify(input.dryRun)}`);
  }
  for (const key of ['trigger', 'eventId'] as const) {
    if (input[key] !== undefined && typeof input[key] !== 'string') {
      throw invalid(`workflow input: ${key} must be a string, got ${JSON.stringify(input[key])}`);
    }
  }
  return {
    clusterName,
    ...where,
    ...(input.nodegroupName !== undefined ? { nodegroupName: checkName(input.nodegroupName, 'nodegroupName', 'workflow input') } : {}),
    dryRun: input.dryRun === true,
    trigger: (input.trigger as string | undefined) ?? 'Manual',
    ...(input.eventId !== undefined ? { eventId: input.eventId as string } : {}),
  };
}

/** The cluster of a manual input: {clusterArn} or {clusterName, account?, region?} (default: the hub's own). */
function clusterOf(input: Raw): { clusterName: string; account?: string; region?: string } {
  if (input.clusterArn !== undefined) {
    const extra = ['clusterName', 'account', 'region'].filter((key) => input[key] !== undefined);
    if (extra.length > 0) throw invalid(`workflow input gives clusterArn and ${extra.join(', ')}: give either clusterArn or clusterName (with account and region when not the hub's own)`);
    const arn = typeof input.clusterArn === 'string' ? CLUSTER_ARN.exec(input.clusterArn) : null;
    if (!arn) throw invalid(`workflow input: clusterArn ${JSON.stringify(input.clusterArn)} is not an EKS cluster ARN (arn:aws:eks:<region>:<account>:cluster/<name>)`);
    return { clusterName: checkName(arn[3], 'clusterArn\'s cluster name', 'workflow input'), ...located(arn[2], arn[1], 'workflow input') };
  }
  if (input.clusterName === undefined) throw invalid('workflow input needs "clusterName" or "clusterArn", for example {"clusterName": "prod-a"}');
  return { clusterName: checkName(input.clusterName, 'clusterName', 'workflow input'), ...located(input.account, input.region, 'workflow input') };
}
