// Every Choice on the resolve step's phase routes only the phases it expects onward; any other
// phase (a phase of another workflow, a new one, a typo) ends the run through ReleaseLeases and
// RecordFailure. Evaluated on the files' own Choice rules, for every workflow.
import { aslFiles, AslState } from './fixtures';

type Rule = { Variable?: string; StringEquals?: string; IsPresent?: boolean; And?: Rule[]; Next?: string };
type ChoiceState = AslState & { Choices: Rule[]; Default?: string };

/** Where each expected phase goes; every other phase goes to UnexpectedPhase. */
const ONWARD: Record<string, Record<string, Record<string, string>>> = {
  'cluster-onboarding.asl.json': {
    IsClusterReady: { pending: 'WaitForCluster', skipped: 'RecordSkipped', early: 'BeginOnboarding', ready: 'BeginOnboarding' },
    IsNetworkReady: { early: 'AwaitActive', ready: 'VpcCni' },
    IsClusterActive: { pending: 'WaitForActive', ready: 'VpcCni' },
  },
  // A node-group run waits for ACTIVE in ResolveCluster: `early` is not its phase.
  'nodegroup-onboarding.asl.json': { IsClusterReady: { pending: 'WaitForCluster', skipped: 'RecordSkipped', ready: 'BeginOnboarding' } },
  'cluster-offboarding.asl.json': { AnythingToUndo: { nothing: 'NothingToDo', ready: 'BeginOffboarding' } },
};
const PHASES = ['pending', 'early', 'ready', 'skipped', 'nothing', 'done', 'READY', ''];

const read = (data: unknown, path: string): unknown =>
  path.replace(/^\$\.?/, '').split('.').filter(Boolean).reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], data);

function matches(rule: Rule, data: unknown): boolean {
  if (rule.And) return rule.And.every((r) => matches(r, data));
  const value = read(data, rule.Variable ?? '');
  if (rule.IsPresent !== undefined) return (value !== undefined) === rule.IsPresent;
  if (rule.StringEquals !== undefined) return value === rule.StringEquals;
  throw new Error(`rule ${JSON.stringify(rule)}: this test evaluates StringEquals, IsPresent and And only`);
}

const route = (choice: ChoiceState, data: unknown) => choice.Choices.find((rule) => matches(rule, data))?.Next ?? choice.Default;
const readsPhase = (rule: Rule): boolean => rule.Variable === '$.resolve.phase' || (rule.And ?? []).some(readsPhase);

describe.each(aslFiles().map((f) => [f.file, f.definition] as const))('%s', (file, definition) => {
  const expected = ONWARD[file] ?? {};
  const choices = Object.entries(definition.States).filter(([, s]) => s.Type === 'Choice' && (s as ChoiceState).Choices.some(readsPhase));

  test('its Choices on the resolve phase are the ones listed here', () => {
    expect(choices.map(([name]) => name).sort()).toEqual(Object.keys(expected).sort());
  });

  test.each(Object.keys(expected))('%s routes only its phases onward', (name) => {
    const choice = definition.States[name] as ChoiceState;
    const routes = Object.fromEntries(PHASES.map((phase) => [phase, route(choice, { resolve: { phase } })]));
    expect(routes).toEqual(Object.fromEntries(PHASES.map((phase) => [phase, expected[name][phase] ?? 'UnexpectedPhase'])));
  });

  test('UnexpectedPhase records the error, then ReleaseLeases, then RecordFailure', () => {
    const unexpected = definition.States.UnexpectedPhase as AslState & { ResultPath?: string; Parameters?: Record<string, string> };
    expect(unexpected).toMatchObject({ Type: 'Pass', ResultPath: '$.error', Next: 'ReleaseLeases', Parameters: { Error: 'UnexpectedPhase' } });
    expect(definition.States.ReleaseLeases.Next).toBe('RecordFailure');
  });
});
