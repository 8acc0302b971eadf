// Example values that must never reach a deployment: the shipped cdk.json (and the README's worked
// example) use them, so `cdk synth` of an unedited copy stops here with each key named, instead of
// deploying a stack that calls a controller that does not exist.

/** Account ids AWS documentation uses in examples. */
const EXAMPLE_ACCOUNTS = ['111122223333', '123456789012', '444455556666', '777788889999', '000000000000'];
/** Reserved example domains (RFC 2606 / RFC 6761): example.com/.net/.org, *.example, *.invalid, *.test. */
const EXAMPLE_HOST = /(^|\.)(example\.(com|net|org|internal)|example|invalid|test|localhost)$/i;
const FILL_ME_IN = /\bREPLACE[-_ ]?ME\b|\bCHANGE[-_ ]?ME\b|\bTODO\b|<[a-z][\w -]*>/i;

function exampleIn(value: string): string | undefined {
  const account = EXAMPLE_ACCOUNTS.find((a) => new RegExp(`(^|[^0-9])${a}([^0-9]|$)`).test(value));
  if (account) return `the example account ${account}`;
  const host = /^[a-z][a-z0-9+.-]*:\/\/([^/:?#]+)/i.exec(value)?.[1] ?? /@([^@\s]+)$/.exec(value)?.[1];
  if (host && EXAMPLE_HOST.test(host)) return `the example host ${host}`;
  if (FILL_ME_IN.test(value)) return 'a fill-me-in placeholder';
  return undefined;
}

/** One problem per config value that is an example or placeholder, naming its key. */
export function placeholderProblems(raw: unknown, prefix = 'onboarding'): string[] {
  if (typeof raw === 'string') {
    const example = exampleIn(raw);
    return example ? [`${prefix} is "${raw}", ${example}: set your own value (README, Deploy)`] : [];
  }
  if (Array.isArray(raw)) return raw.flatMap((v, i) => placeholderProblems(v, `${prefix}[${i}]`));
  if (raw && typeof raw === 'object') return Object.entries(raw).flatMap(([k, v]) => placeholderProblems(v, `${prefix}.${k}`));
  return [];
}
