// aws-local-stepfunctions validates a definition (asl-validator: ajv compiles its schemas) every
// time a StateMachine is built, which was a third of the CPU of a workflow test file. Validity
// depends only on the definition's text and the validator, so each text is validated once and the
// verdict kept on disk (for every test file and worker, like jest's transform cache).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StateMachine, StateMachineDefinition } from 'aws-local-stepfunctions';

const VALIDATION = { checkArn: true, checkPaths: true };
const EMULATOR = path.resolve(__dirname, '..', '..', 'node_modules', 'aws-local-stepfunctions');
/** The emulator's version and that of the asl-validator it uses (its own copy). */
const versions = [path.join(EMULATOR, 'package.json'), path.join(EMULATOR, 'node_modules', 'asl-validator', 'package.json')].map(
  (file) => (fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version : 'absent'),
);

function verdictFile(definition: StateMachineDefinition): string {
  const key = createHash('sha256').update(JSON.stringify([versions, VALIDATION, definition])).digest('hex');
  return path.join(os.tmpdir(), 'eks-aviatrix-valid-asl', key);
}

/** A StateMachine for the definition, validated as aws-local-stepfunctions does (invalid: it throws). */
export function validatedStateMachine(definition: StateMachineDefinition): StateMachine {
  const verdict = verdictFile(definition);
  if (fs.existsSync(verdict)) return new StateMachine(definition, { validationOptions: { noValidate: true } });
  const machine = new StateMachine(definition, { validationOptions: VALIDATION });
  fs.mkdirSync(path.dirname(verdict), { recursive: true });
  fs.writeFileSync(verdict, 'valid\n');
  return machine;
}
