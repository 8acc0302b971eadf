// Which cluster a command is about: a name (the deployment's own account and Region), a name with
// --account/--cluster-region, "<account>/<region>/<name>" (as `status` lists a member account's
// cluster) or the cluster's ARN. The commands use one key for it: the bare name in the hub's own
// account and Region, "<account>/<region>/<name>" elsewhere, as the status table keys records
// (lambdas/shared/target.ts).
import { CLUSTER_ARN, parseScopedName, scopedName } from '../lambdas/shared/target';
import { CliError, EXIT_USAGE } from './errors';

const EKS_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const ACCOUNT_ID = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

export interface ClusterRef {
  name: string;
  account?: string;
  region?: string;
}

const usage = (message: string) => new CliError(message, EXIT_USAGE);

/** A cluster argument and the --account/--cluster-region options, checked. */
export function parseClusterRef(text: string, account?: string, region?: string): ClusterRef {
  const arn = CLUSTER_ARN.exec(text);
  const scoped = parseScopedName(text);
  const ref: ClusterRef = arn ? { name: arn[3], account: arn[2], region: arn[1] } : scoped.target ? { name: scoped.name, ...scoped.target } : { name: text };
  if ((arn || scoped.target) && (account || region)) throw usage(`"${text}" names its account and Region already: leave out --account and --cluster-region.`);
  if (account) ref.account = account;
  if (region) ref.region = region;
  if (!EKS_NAME.test(ref.name)) {
    throw usage(`"${ref.name}" is not a valid EKS cluster name (letters, digits, - and _, starting with a letter or digit, at most 100), nor a cluster ARN.`);
  }
  if (ref.account !== undefined && !ACCOUNT_ID.test(ref.account)) throw usage(`"${ref.account}" is not a 12-digit AWS account id.`);
  if (ref.region !== undefined && !REGION.test(ref.region)) throw usage(`"${ref.region}" is not an AWS Region name such as eu-west-1.`);
  return ref;
}

/** The cluster's key, given the deployment's own account and Region (from its state machine's ARN). */
export function clusterKey(ref: ClusterRef, stateMachineArn: string): string {
  const [, , , hubRegion, hubAccount] = stateMachineArn.split(':');
  const account = ref.account ?? hubAccount;
  const region = ref.region ?? hubRegion;
  return account === hubAccount && region === hubRegion ? ref.name : scopedName(ref.name, { account, region });
}

/** The workflow input's cluster keys for a key made by clusterKey. */
export function clusterInput(key: string): { clusterName: string; account?: string; region?: string } {
  const { name, target } = parseScopedName(key);
  return { clusterName: name, ...target };
}
