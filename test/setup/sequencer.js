// Runs the costliest test files first, so that the two workers end together instead of one of them
// starting a 30 s file while the other has nothing left (jest's own order puts the largest files
// first, which is not the costliest: crash-rerun-later.test.ts is the shortest text and the
// costliest file). The cost of each file is its CPU seconds as measured by cpu-ledger-environment.js
// (file-costs.json); a file not in the table goes by jest's own rule (its last duration, or its size).
// A member of a group (suite-groups.js) is left out when its group runs too: it runs inside it.
// After adding or reshaping test files, measure and rewrite the table:
//   EKS_AVIATRIX_CPU_LEDGER=/tmp/ledger.jsonl npx jest --testEnvironment ./test/setup/cpu-ledger-environment.js
//   node test/setup/sequencer.js /tmp/ledger.jsonl
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const { ROOT, groupOf } = require('./suite-groups');

const TABLE = path.join(__dirname, 'file-costs.json');

function costs() {
  return fs.existsSync(TABLE) ? JSON.parse(fs.readFileSync(TABLE, 'utf8')) : {};
}

if (require.main === module) {
  const rows = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
  const table = Object.fromEntries(
    rows.map((r) => [r.file, Math.round((r.self + r.moto) / 100) / 10]).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
  );
  fs.writeFileSync(TABLE, `${JSON.stringify(table, null, 2)}\n`);
} else {
  const Sequencer = require('@jest/test-sequencer').default;
  const table = costs();
  const relative = (test) => path.relative(ROOT, test.path);
  /** The tests less the members of groups that are in the run too. */
  const once = (tests) => {
    const files = new Set(tests.map(relative));
    return tests.filter((test) => !files.has(groupOf(relative(test))));
  };
  module.exports = class CostliestFirst extends Sequencer {
    shard(tests, options) {
      return super.shard(once(tests), options);
    }
    sort(tests) {
      return super.sort(once(tests));
    }
    time(test) {
      const seconds = table[relative(test)];
      return seconds === undefined ? super.time(test) : seconds * 1000;
    }
  };
}
