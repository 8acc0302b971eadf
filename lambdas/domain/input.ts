// Turns whatever started the workflow (a CloudTrail event from EventBridge, or a manual
// {"clusterName": ...} from the console or the CLI) into the one WorkflowInput shape.
import { OnboardingError } from '../shared/errors';
import { WorkflowInput } from '../shared/workflow';

const EKS_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const HANDLED_EVENTS = new Set(['CreateCluster', 'CreateNodegroup', 'DeleteCluster', 'DeleteNodegroup']);
const MANUAL_KEYS = new Set(['clusterName', 'nodegroupName', 'dryRun', 'trigger', 'eventId']);

type Raw = Record<string, unknown>;

const isObject = (value: unknown): value is Raw => value !== null && typeof value === 'object' && !Array.isArray(value);

function invalid(message: string): OnboardingError {
  return new OnboardingError('InvalidInput', message);
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
  if (input.clusterName === undefined) throw invalid('workflow input needs "clusterName", for example {"clusterName": "prod-a"}');
  const clusterName = checkName(input.clusterName, 'clusterName', 'workflow input');
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
    ...(input.nodegroupName !== undefined ? { nodegroupName: checkName(input.nodegroupName, 'nodegroupName', 'workflow input') } : {}),
    dryRun: input.dryRun === true,
    trigger: (input.trigger as string | undefined) ?? 'Manual',
    ...(input.eventId !== undefined ? { eventId: input.eventId as string } : {}),
  };
}
