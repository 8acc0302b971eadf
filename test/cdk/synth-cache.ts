// One synthesis per distinct stack config per jest run, shared by every CDK test file that asks for
// it: most of those files synthesize the same default stack, and each synthesis (cdk-nag included)
// costs seconds in a fresh module registry. Whichever worker asks first synthesizes, in-process as
// before, and leaves the template and the stack's messages (annotations) in the run's folder
// (global-setup.ts makes it, global-teardown.ts removes it); the others read them. The folder lives
// only for one run, so no source change can meet a stale entry. Without the folder (a script, or
// jest run without its globalSetup) every call synthesizes.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, Stage } from 'aws-cdk-lib';
import { Annotations, Template } from 'aws-cdk-lib/assertions';
import type { SynthesisMessage } from 'aws-cdk-lib/cx-api';
import { SYNTH_CACHE_DIR } from '../setup/run-folder';

export interface Synthesized {
  template: Template;
  /** The template as JSON (a fresh copy: callers may change it). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  annotations: Annotations;
}

interface Entry {
  template: object;
  messages: SynthesisMessage[];
}

// Annotations has no public constructor from messages; fromStack synthesizes a second time.
const annotationsOf = (messages: SynthesisMessage[]) => new (Annotations as unknown as new (m: SynthesisMessage[]) => Annotations)(messages);

function synthesize(build: () => Stack): Entry {
  const stack = build();
  // One synthesis for both (Template.fromStack and Annotations.fromStack would each run one).
  const assembly = Stage.of(stack)!.synth({ force: true });
  const stackArtifact = assembly.getStackArtifact(stack.artifactId);
  return { template: stackArtifact.template as object, messages: stackArtifact.messages };
}

/**
 * The stack `build` makes, synthesized once per run for `key` (everything that decides the stack:
 * which builder, the config, the environment). `key` must be JSON: two builds with equal keys must
 * make equal stacks.
 */
export function synthesizedOnce(key: object, build: () => Stack): Synthesized {
  const dir = process.env[SYNTH_CACHE_DIR];
  const file = dir && path.join(dir, `${createHash('sha256').update(JSON.stringify(key)).digest('hex')}.json`);
  let entry: Entry | undefined;
  if (file && fs.existsSync(file)) entry = JSON.parse(fs.readFileSync(file, 'utf8')) as Entry;
  if (!entry) {
    entry = synthesize(build);
    if (file) {
      // Written whole, then renamed: a reader never sees a partial file (the other worker may write
      // the same entry at the same time; either copy is the same).
      const partial = `${file}.${process.pid}.partial`;
      fs.writeFileSync(partial, JSON.stringify(entry));
      fs.renameSync(partial, file);
    }
  }
  return {
    template: Template.fromJSON(structuredClone(entry.template)),
    json: structuredClone(entry.template),
    annotations: annotationsOf(entry.messages),
  };
}
