// lambdas/shared/config-stamp.ts and runtime(): a Lambda reads the config the stack stamped without
// validating it again, and refuses one without its stamp, changed since (by hand, in the console),
// or not JSON, each with one message naming the variable, the function and the fix.
import { createHash } from 'node:crypto';
import { parseConfig } from '../../lib/config';
import { CONFIG_VARIABLE, DIGEST_VARIABLE, stampConfig } from '../../lambdas/shared/config-stamp';
import { OnboardingError } from '../../lambdas/shared/errors';
import { runtime } from '../../lambdas/shared/runtime';
import { TEST_RAW_CONFIG } from '../cdk/fixtures';

const FUNCTION = 'eks-aviatrix-pod-network';
const TOKEN = '${Token[TOKEN.42]}';
const DEPLOYED_GROUP = 'sg-0123456789abcdef0';
const validated = () => parseConfig(TEST_RAW_CONFIG);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const saved = { ...process.env };
beforeEach(() => {
  process.env.AWS_LAMBDA_FUNCTION_NAME = FUNCTION;
});
afterEach(() => {
  for (const key of [CONFIG_VARIABLE, DIGEST_VARIABLE, 'AWS_LAMBDA_FUNCTION_NAME']) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

function setEnv(variables: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(variables)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

function refusal(): { name: string; message: string } {
  try {
    runtime();
  } catch (error) {
    if (error instanceof OnboardingError) return { name: error.name, message: error.message };
    throw error;
  }
  throw new Error('expected runtime() to refuse the config');
}

/** The stack's stamp of a config whose security group CloudFormation makes, as the deployed function sees it. */
function deployedWithMadeGroup(): Record<string, string> {
  const config = validated();
  const stamped = stampConfig(
    { ...config, privateEndpointAccess: { vpcId: 'vpc-0a1b2c3d', subnetIds: ['subnet-0a1b2c3d', 'subnet-0e1f2a3b'], securityGroupIds: [TOKEN] } },
    (value) => value === TOKEN,
  );
  return { ...stamped, [CONFIG_VARIABLE]: stamped[CONFIG_VARIABLE].replace(TOKEN, DEPLOYED_GROUP) };
}

test('the stamped config is read as the stack validated it: the JSON text and its SHA-256', () => {
  const stamped = stampConfig(validated());
  expect(stamped).toEqual({ [CONFIG_VARIABLE]: JSON.stringify(validated()), [DIGEST_VARIABLE]: sha256(JSON.stringify(validated())) });
  setEnv(stamped);
  expect(runtime().config).toEqual(validated());
});

test('without its digest the config is refused, naming the variable, the function and the fix', () => {
  setEnv({ ...stampConfig(validated()), [DIGEST_VARIABLE]: undefined });
  expect(refusal()).toEqual({
    name: 'ConfigError',
    message: `ONBOARDING_CONFIG_SHA256 is not set on function ${FUNCTION}, so its ONBOARDING_CONFIG cannot be trusted; redeploy the stack with \`cdk deploy\``,
  });
});

test('a config changed after it was stamped (edited in the console) is refused', () => {
  const stamped = stampConfig(validated());
  setEnv({ ...stamped, [CONFIG_VARIABLE]: stamped[CONFIG_VARIABLE].replace('"secondaryCidr":"100.64.0.0/16"', '"secondaryCidr":"100.65.0.0/16"') });
  expect(process.env[CONFIG_VARIABLE]).toContain('100.65.0.0/16');
  expect(refusal()).toEqual({
    name: 'ConfigError',
    message:
      `ONBOARDING_CONFIG on function ${FUNCTION} does not match its ONBOARDING_CONFIG_SHA256: it was changed outside \`cdk deploy\` (by hand, in the console); ` +
      'put the change in the config the stack is deployed from (cdk.json\'s "onboarding", or the app\'s) and run `cdk deploy`',
  });
});

test('a text that is not JSON is refused even with a digest that matches it', () => {
  setEnv({ [CONFIG_VARIABLE]: '{"secondaryCidr":', [DIGEST_VARIABLE]: sha256('{"secondaryCidr":') });
  expect(refusal()).toEqual({ name: 'ConfigError', message: `ONBOARDING_CONFIG on function ${FUNCTION} is not valid JSON; redeploy the stack with \`cdk deploy\`` });
});

test('without the config at all, or outside Lambda (no function name), the message says so', () => {
  setEnv({ [CONFIG_VARIABLE]: undefined, [DIGEST_VARIABLE]: sha256('{}'), AWS_LAMBDA_FUNCTION_NAME: undefined });
  expect(refusal()).toEqual({ name: 'ConfigError', message: 'ONBOARDING_CONFIG is not set on this function; redeploy the stack with `cdk deploy`' });
});

describe('a value CloudFormation fills in at deploy (the security group the stack makes)', () => {
  test('is left out of the digest, named by its path: the deployed config is read with it', () => {
    const deployed = deployedWithMadeGroup();
    expect(deployed[DIGEST_VARIABLE]).toMatch(/^[0-9a-f]{64} \[\["privateEndpointAccess","securityGroupIds",0\]\]$/);
    setEnv(deployed);
    expect(runtime().config.privateEndpointAccess).toEqual({ vpcId: 'vpc-0a1b2c3d', subnetIds: ['subnet-0a1b2c3d', 'subnet-0e1f2a3b'], securityGroupIds: [DEPLOYED_GROUP] });
  });

  test('any other change is still refused', () => {
    const deployed = deployedWithMadeGroup();
    setEnv({ ...deployed, [CONFIG_VARIABLE]: deployed[CONFIG_VARIABLE].replace('subnet-0e1f2a3b', 'subnet-0fffffff') });
    expect(refusal().message).toMatch(/^ONBOARDING_CONFIG on function eks-aviatrix-pod-network does not match its ONBOARDING_CONFIG_SHA256: /);
    // Removing the deploy-time value itself is a change too.
    setEnv({ ...deployed, [CONFIG_VARIABLE]: deployed[CONFIG_VARIABLE].replace(`"securityGroupIds":["${DEPLOYED_GROUP}"]`, '"securityGroupIds":[]') });
    expect(process.env[CONFIG_VARIABLE]).toContain('"securityGroupIds":[]');
    expect(refusal().message).toMatch(/^ONBOARDING_CONFIG on function eks-aviatrix-pod-network does not match its ONBOARDING_CONFIG_SHA256: /);
  });

  test('what the digest leaves out must still be a security group id, and only where the stack puts one', () => {
    const deployed = deployedWithMadeGroup();
    setEnv({ ...deployed, [CONFIG_VARIABLE]: deployed[CONFIG_VARIABLE].replace(DEPLOYED_GROUP, 'not even a group id; anything') });
    expect(refusal()).toEqual({
      name: 'ConfigError',
      message:
        `ONBOARDING_CONFIG on function ${FUNCTION} holds "not even a group id; anything" at privateEndpointAccess.securityGroupIds.0, where the stack puts the id of the security group it makes (sg-...): ` +
        'it was changed outside `cdk deploy`; run `cdk deploy`',
    });
    // A stamp that leaves another setting out of the digest is refused, even holding a group id there.
    const config = JSON.parse(deployed[CONFIG_VARIABLE]) as { aviatrix: { controllerUrl: string } };
    config.aviatrix.controllerUrl = '';
    const elsewhere = [['privateEndpointAccess', 'securityGroupIds', 0], ['aviatrix', 'controllerUrl']];
    const withGroupEmptied = JSON.parse(JSON.stringify(config)) as { privateEndpointAccess: { securityGroupIds: string[] } };
    withGroupEmptied.privateEndpointAccess.securityGroupIds[0] = '';
    config.aviatrix.controllerUrl = 'sg-0fedcba987654321f';
    setEnv({ [CONFIG_VARIABLE]: JSON.stringify(config), [DIGEST_VARIABLE]: `${sha256(JSON.stringify(withGroupEmptied))} ${JSON.stringify(elsewhere)}` });
    expect(refusal().message).toBe(
      `ONBOARDING_CONFIG on function ${FUNCTION} holds "sg-0fedcba987654321f" at aviatrix.controllerUrl, where the stack puts the id of the security group it makes (sg-...): ` +
        'it was changed outside `cdk deploy`; run `cdk deploy`',
    );
    // At synth, a value known only at deploy anywhere else is refused.
    expect(() => stampConfig({ ...validated(), secondaryCidr: TOKEN }, (value) => value === TOKEN)).toThrow(
      'onboarding.secondaryCidr is known only at deploy; only privateEndpointAccess.securityGroupIds may be (the group the stack makes)',
    );
  });

  test('paths that are not a list of paths are refused as a mismatch, a text that is not JSON as such', () => {
    const deployed = deployedWithMadeGroup();
    const digest = deployed[DIGEST_VARIABLE].split(' ')[0];
    for (const paths of ['privateEndpointAccess', '{"privateEndpointAccess":0}', '[[]]']) {
      setEnv({ ...deployed, [DIGEST_VARIABLE]: `${digest} ${paths}` });
      expect({ paths, message: refusal().message }).toEqual({ paths, message: expect.stringMatching(/does not match its ONBOARDING_CONFIG_SHA256: /) });
    }
    setEnv({ ...deployed, [CONFIG_VARIABLE]: deployed[CONFIG_VARIABLE].slice(0, -1) });
    expect(refusal().message).toBe(`ONBOARDING_CONFIG on function ${FUNCTION} is not valid JSON; redeploy the stack with \`cdk deploy\``);
  });
});
