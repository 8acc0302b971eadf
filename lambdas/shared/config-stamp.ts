// How the stack hands the Lambdas their config, and how they trust it without validating it again.
// The EksAviatrixOnboarding construct validates the config once, at synth (parseConfig); the stack
// sets ONBOARDING_CONFIG to its JSON text and ONBOARDING_CONFIG_SHA256 to the text's SHA-256, made
// here. A Lambda checks the digest instead of running the validator, which stays out of every
// bundle, and refuses a value edited outside `cdk deploy` (the console) rather than trusting it.
// It catches mistakes, not forgery (the digest has no key): changing a function's configuration is
// the deployers' right alone, as it could change what the function runs.
// node:crypto only: this file is in every bundle and in the stack.
import { createHash } from 'node:crypto';

export const CONFIG_VARIABLE = 'ONBOARDING_CONFIG';
export const DIGEST_VARIABLE = 'ONBOARDING_CONFIG_SHA256';

/** Where a string sits in the config: keys and array indexes from the root. */
type JsonPath = (string | number)[];

/**
 * The one kind of value the stack fills in at deploy: the security group it makes for the functions
 * that reach private cluster endpoints (lib/private-endpoint-access.ts). The digest cannot cover it,
 * so the Lambda checks where it is and what it looks like instead.
 */
const DEPLOY_TIME_PLACE = (path: JsonPath) => path.length === 3 && path[0] === 'privateEndpointAccess' && path[1] === 'securityGroupIds' && typeof path[2] === 'number';
const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8,17}$/;

/**
 * The two variables for a validated config. `deployTime` tells the strings CloudFormation fills in
 * at deploy: their values are not known at synth, so the digest covers the config with them emptied,
 * and names their paths after a space for the check to do the same.
 */
export function stampConfig(config: object, deployTime: (value: string) => boolean = () => false): Record<string, string> {
  const text = JSON.stringify(config);
  const paths = stringPaths(JSON.parse(text), deployTime);
  const misplaced = paths.find((path) => !DEPLOY_TIME_PLACE(path));
  if (misplaced) throw new Error(`onboarding.${misplaced.join('.')} is known only at deploy; only privateEndpointAccess.securityGroupIds may be (the group the stack makes)`);
  return { [CONFIG_VARIABLE]: text, [DIGEST_VARIABLE]: paths.length === 0 ? digestOf(text, []) : `${digestOf(text, paths)} ${JSON.stringify(paths)}` };
}

/** The stamped config a Lambda may trust, or why not (naming the variable, the function and the fix). */
export function openStampedConfig(text: string | undefined, stamp: string | undefined, functionName?: string): { config: unknown } | { problem: string } {
  const where = functionName ? `function ${functionName}` : 'this function';
  if (!text) return { problem: `${CONFIG_VARIABLE} is not set on ${where}; redeploy the stack with \`cdk deploy\`` };
  if (!stamp) {
    return { problem: `${DIGEST_VARIABLE} is not set on ${where}, so its ${CONFIG_VARIABLE} cannot be trusted; redeploy the stack with \`cdk deploy\`` };
  }
  const notJson = { problem: `${CONFIG_VARIABLE} on ${where} is not valid JSON; redeploy the stack with \`cdk deploy\`` };
  const { digest, paths } = readStamp(stamp);
  let actual: string | undefined;
  try {
    actual = paths && digestOf(text, paths);
  } catch {
    // With deploy-time values the text is parsed before it is digested.
    return notJson;
  }
  if (actual !== digest) {
    return {
      problem:
        `${CONFIG_VARIABLE} on ${where} does not match its ${DIGEST_VARIABLE}: it was changed outside \`cdk deploy\` (by hand, in the console); ` +
        'put the change in the config the stack is deployed from (cdk.json\'s "onboarding", or the app\'s) and run `cdk deploy`',
    };
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    return notJson;
  }
  // What the digest leaves out must still be a security group id where the stack put one.
  for (const path of paths!) {
    const value = path.reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), config);
    if (!DEPLOY_TIME_PLACE(path) || typeof value !== 'string' || !SECURITY_GROUP_ID.test(value)) {
      return {
        problem:
          `${CONFIG_VARIABLE} on ${where} holds ${JSON.stringify(value)} at ${path.join('.')}, where the stack puts the id of the security group it makes (sg-...): ` +
          'it was changed outside `cdk deploy`; run `cdk deploy`',
      };
    }
  }
  return { config };
}

/** The digest and the deploy-time paths of a stamp; no paths when they are not a list of paths (the digest then fails). */
function readStamp(stamp: string): { digest: string; paths?: JsonPath[] } {
  const space = stamp.indexOf(' ');
  if (space < 0) return { digest: stamp, paths: [] };
  try {
    const paths: unknown = JSON.parse(stamp.slice(space + 1));
    if (Array.isArray(paths) && paths.every((p) => Array.isArray(p))) return { digest: stamp.slice(0, space), paths: paths as JsonPath[] };
  } catch {
    // not a list of paths: below
  }
  return { digest: stamp.slice(0, space) };
}

function digestOf(text: string, paths: JsonPath[]): string {
  const digested = paths.length === 0 ? text : JSON.stringify(emptied(JSON.parse(text), paths));
  return createHash('sha256').update(digested).digest('hex');
}

/** Where the strings that `pick` chooses sit in `value`. */
export function stringPaths(value: unknown, pick: (value: string) => boolean, at: JsonPath = []): JsonPath[] {
  if (typeof value === 'string') return pick(value) ? [at] : [];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => stringPaths(child, pick, [...at, Array.isArray(value) ? Number(key) : key]));
}

/** `value` with the strings at `paths` emptied; a path that holds no string is left alone, so the digest differs. */
function emptied(value: unknown, paths: JsonPath[]): unknown {
  for (const path of paths) {
    const parent = path.slice(0, -1).reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), value);
    const last = path[path.length - 1];
    if (parent !== null && typeof parent === 'object' && typeof (parent as Record<string, unknown>)[last] === 'string') (parent as Record<string, unknown>)[last] = '';
  }
  return value;
}
