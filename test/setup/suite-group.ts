// Runs the member files of a group (test/setup/suite-groups.js) in this file's jest module
// registry: loading the SDK, the handlers and the stand-ins once costs ~1 s of CPU per workflow
// file that a registry of its own pays again. Each member runs inside a describe block named after
// its path, so its hooks (its world) and tests stay its own and a failure names the member. The
// local world drops the Lambdas' warm state when a world starts or stops (test/local-world/world.ts).
import path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ROOT, membersOf } = require('./suite-groups') as { ROOT: string; membersOf(groupFile: string): string[] };

export function runSuiteGroup(groupFile: string): void {
  for (const member of membersOf(path.relative(ROOT, groupFile))) {
    describe(member, () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(path.join(ROOT, member));
    });
  }
}
