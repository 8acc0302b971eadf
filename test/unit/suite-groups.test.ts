// The groups of test files that share a jest module registry (test/setup/suite-groups.js): a run
// that has a group leaves its members to it, so every test runs once; a member named alone runs.
import path from 'node:path';

/* eslint-disable @typescript-eslint/no-require-imports */
const { ROOT, GROUPS, membersOf } = require('../setup/suite-groups') as {
  ROOT: string;
  GROUPS: Record<string, string[]>;
  membersOf(groupFile: string): string[];
};
const CostliestFirst = require('../setup/sequencer') as new () => {
  sort(tests: TestLike[]): TestLike[];
  shard(tests: TestLike[], options: { shardIndex: number; shardCount: number }): TestLike[];
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface TestLike {
  path: string;
  context: { config: { cache: boolean; rootDir: string }; hasteFS: { getSize(): number } };
}

const test_ = (file: string): TestLike => ({ path: path.join(ROOT, file), context: { config: { cache: false, rootDir: ROOT }, hasteFS: { getSize: () => 1 } } });
const files = (tests: TestLike[]) => tests.map((t) => path.relative(ROOT, t.path)).sort();

const [group, members] = Object.entries(GROUPS)[0];
const outsider = 'test/unit/cidr.test.ts';

test('a run with a group and its members runs the members only inside the group', () => {
  const run = new CostliestFirst().sort([group, ...members, outsider].map(test_));
  expect(files(run)).toEqual([group, outsider].sort());
});

test('members named without their group run on their own', () => {
  const run = new CostliestFirst().sort([members[0], members[1], outsider].map(test_));
  expect(files(run)).toEqual([members[0], members[1], outsider].sort());
});

test('sharding leaves the members to their group too: the shards together run each file once', () => {
  const all = [group, ...members, outsider].map(test_);
  const shards = [1, 2, 3].map((shardIndex) => files(new CostliestFirst().shard(all, { shardIndex, shardCount: 3 })));
  expect(shards.flat().sort()).toEqual([group, outsider].sort());
});

test('every group names existing files, each in one group only', () => {
  const all = Object.keys(GROUPS).flatMap((g) => membersOf(g));
  expect(new Set(all).size).toBe(all.length);
});

test('a group file without a row, or a row naming a missing file, is refused with what to fix', () => {
  expect(() => membersOf('test/groups/nowhere.test.ts')).toThrow(/test\/groups\/nowhere.test.ts is not a group in test\/setup\/suite-groups.js/);
  GROUPS['test/groups/stale.test.ts'] = ['test/workflow/gone.test.ts'];
  try {
    expect(() => membersOf('test/groups/stale.test.ts')).toThrow(/test\/workflow\/gone.test.ts, a member of test\/groups\/stale.test.ts, does not exist; fix test\/setup\/suite-groups.js/);
  } finally {
    delete GROUPS['test/groups/stale.test.ts'];
  }
});
