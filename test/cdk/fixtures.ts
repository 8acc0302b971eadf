// Shared by the CDK tests: one test config and a synthesized stack with cdk-nag applied.
// Bundling is skipped through CDK's own `aws:cdk:bundling-stacks` context (an empty list means
// "bundle no stack"); the NodejsFunction code, its entry and its settings are otherwise real.
import * as fs from 'fs';
import * as path from 'path';
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OnboardingConfig, parseConfig } from '../../lib/config';
import { OnboardingStack } from '../../lib/onboarding-stack';
import { Synthesized, synthesizedOnce } from './synth-cache';

export const REPO_ROOT = path.join(__dirname, '..', '..');

export const TEST_RAW_CONFIG = {
  secondaryCidr: '100.64.0.0/16',
  optIn: { mode: 'tag', tagKey: 'aviatrix.com/onboard', tagValue: 'true' },
  aviatrix: {
    controllerUrl: 'https://controller.example.internal',
    credentialsSecretName: 'aviatrix/controller/api',
    controllerRoleArn: 'arn:aws:iam::111122223333:role/aviatrix-role-app',
  },
};

export function testConfig(): OnboardingConfig {
  return parseConfig(TEST_RAW_CONFIG);
}

/** `agnostic`: no account or Region, as `cdk synth` without credentials renders them (tokens). */
export function synthStack(options: SynthOptions = {}): { app: App; stack: OnboardingStack } {
  const app = new App({ context: options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] } });
  const stack = new OnboardingStack(app, 'TestOnboarding', {
    config: options.config ?? testConfig(),
    ...(options.agnostic ? {} : { env: { account: '111122223333', region: 'eu-west-1' } }),
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, stack };
}

type SynthOptions = { bundle?: boolean; config?: OnboardingConfig; agnostic?: boolean };

/** synthStack's template and annotations, synthesized once per run for each distinct config (synth-cache.ts). */
export function synthesized(options: Omit<SynthOptions, 'bundle'> = {}): Synthesized {
  const config = options.config ?? testConfig();
  return synthesizedOnce({ builder: 'synthStack', config, agnostic: options.agnostic === true }, () => synthStack({ ...options, config }).stack);
}

/** Every `state-machines/*.asl.json`, with `${...}` substitutions replaced by plausible values. */
export function aslFiles(): { file: string; text: string; definition: AslDefinition }[] {
  const dir = path.join(REPO_ROOT, 'state-machines');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.asl.json'))
    .map((file) => {
      const text = fs.readFileSync(path.join(dir, file), 'utf8');
      const substituted = text.replace(/\$\{(\w+)\}/g, (_m, name: string) =>
        name.endsWith('Arn') ? `arn:aws:lambda:eu-west-1:111122223333:function:${name.replace(/Arn$/, '')}` : '30',
      );
      return { file, text, definition: JSON.parse(substituted) as AslDefinition };
    });
}

export interface AslState {
  Type: string;
  Resource?: string;
  Next?: string;
  Retry?: { ErrorEquals: string[]; BackoffRate?: number; MaxDelaySeconds?: number; JitterStrategy?: string }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Branches?: AslDefinition[];
  ItemProcessor?: AslDefinition;
  Iterator?: AslDefinition;
}

export interface AslDefinition {
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, AslState>;
}

export interface StateEntry {
  path: string;
  state: AslState;
  /** An enclosing Parallel or Map state has a Catch (errors in its branches end up there). */
  enclosingCatch: boolean;
}

/** All states, nested ones too (Parallel branches, Map processors). */
export function allStates(definition: AslDefinition, prefix = '', enclosingCatch = false): StateEntry[] {
  return Object.entries(definition.States).flatMap(([name, state]) => {
    const here = `${prefix}${name}`;
    const nested = [...(state.Branches ?? []), ...(state.ItemProcessor ? [state.ItemProcessor] : []), ...(state.Iterator ? [state.Iterator] : [])];
    const catches = enclosingCatch || (state.Catch?.length ?? 0) > 0;
    return [{ path: here, state, enclosingCatch }, ...nested.flatMap((d, i) => allStates(d, `${here}/${i}/`, catches))];
  });
}
