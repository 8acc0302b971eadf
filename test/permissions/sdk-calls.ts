// The AWS calls the Lambdas make, derived from the code: every `new XxxCommand(` and `paginateXxx(`
// in lambdas/**/*.ts, named by the IAM action of the @aws-sdk/client-* package the file uses for it.
import * as fs from 'fs';
import * as path from 'path';

const REPO_ROOT = path.join(__dirname, '..', '..');

/** SDK client package -> IAM service prefix. A package missing here fails the derivation. */
const SERVICE_PREFIX: Record<string, string> = {
  '@aws-sdk/client-auto-scaling': 'autoscaling',
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/client-ec2': 'ec2',
  '@aws-sdk/client-eks': 'eks',
  '@aws-sdk/client-iam': 'iam',
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
  '@aws-sdk/client-sfn': 'states',
  '@aws-sdk/client-sns': 'sns',
  '@aws-sdk/client-sts': 'sts',
};

/**
 * Calls that IAM authorizes by the actions of their parts: a DynamoDB transaction's Put, Update and
 * Delete are allowed or denied as PutItem, UpdateItem and DeleteItem on their tables (there is no
 * TransactWriteItems action to grant).
 */
const ITEM_ACTIONS_OF: Record<string, string[]> = { TransactWriteItems: ['PutItem', 'UpdateItem', 'DeleteItem'] };

/** The IAM action of each SDK call in `file`, resolved against the client packages it mentions. */
export function sdkActionsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  // Code imports the SDK directly, or through its lazy-loading module lambdas/shared/sdk/<service>.ts.
  const packages = [
    ...new Set([
      ...[...text.matchAll(/'(@aws-sdk\/client-[a-z0-9-]+)'/g)].map((m) => m[1]),
      ...[...text.matchAll(/'(?:\.\.?\/)+(?:shared\/)?sdk\/([a-z0-9-]+)'/g)].map((m) => `@aws-sdk/client-${m[1]}`),
    ]),
  ];
  const names = [
    ...[...text.matchAll(/new (?:\w+\.)?([A-Z]\w*)Command\(/g)].map((m) => m[1]),
    ...[...text.matchAll(/\bpaginate([A-Z]\w*)\(/g)].map((m) => m[1]),
  ];
  return [...new Set(names)].flatMap((name) => ITEM_ACTIONS_OF[name] ?? [name]).filter((name, i, all) => all.indexOf(name) === i).map((name) => {
    const owners = packages.filter((p) => typeof (require(p) as Record<string, unknown>)[`${name}Command`] === 'function');
    if (owners.length !== 1) throw new Error(`${path.relative(REPO_ROOT, file)}: ${name}Command resolves to ${owners.length} client packages (${owners.join(', ')})`);
    const prefix = SERVICE_PREFIX[owners[0]];
    if (!prefix) throw new Error(`${owners[0]} has no IAM service prefix in test/permissions/sdk-calls.ts`);
    return `${prefix}:${name}`;
  });
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** Every IAM action the Lambdas' code calls, with the files that call it. */
export function lambdaSdkActions(): Map<string, string[]> {
  const actions = new Map<string, string[]>();
  for (const file of tsFiles(path.join(REPO_ROOT, 'lambdas'))) {
    for (const action of sdkActionsOf(file)) actions.set(action, [...(actions.get(action) ?? []), path.relative(REPO_ROOT, file)]);
  }
  return actions;
}
