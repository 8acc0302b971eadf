// Measuring only (docs/test-speed.md): jest's node environment that appends, per test file, the CPU
// it cost by phase to the file named by EKS_AVIATRIX_CPU_LEDGER (one JSON line per file):
// load (the test file's imports), beforeAll (until the first test starts: the hooks that start
// worlds or synthesize), tests (the rest), self (all three; with the child processes the worker
// reaped meanwhile), and the moto server this worker shares. Not used by `npm test`; run e.g.
//   EKS_AVIATRIX_CPU_LEDGER=/tmp/ledger.jsonl npx jest --testEnvironment ./test/setup/cpu-ledger-environment.js
'use strict';
const fs = require('node:fs');
const { TestEnvironment } = require('jest-environment-node');

const TICK_MS = 10; // USER_HZ 100 on Linux

function procCpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime stime cutime cstime are fields 14-17 (1-based), here 11-14 after pid and comm.
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS;
  } catch {
    return 0;
  }
}

function sharedMotoPid() {
  const ports = (process.env.EKS_AVIATRIX_TEST_MOTO_PORTS ?? '').split(',').filter(Boolean);
  const port = ports[(Number(process.env.JEST_WORKER_ID ?? '1') - 1) % Math.max(ports.length, 1)];
  if (!port) return undefined;
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (/python/.test(argv[0]) && argv.includes('-p') && argv[argv.indexOf('-p') + 1] === port) return pid;
    } catch {
      // gone
    }
  }
  return undefined;
}

class CpuLedgerEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.file = context.testPath;
    this.marks = {};
  }

  now() {
    return { self: procCpuMs('self'), moto: this.motoPid ? procCpuMs(this.motoPid) : 0, wall: Date.now() };
  }

  async setup() {
    await super.setup();
    this.motoPid = sharedMotoPid();
    this.marks.start = this.now();
  }

  async handleTestEvent(event) {
    if (event.name === 'run_start') this.marks.loaded = this.now();
    if (event.name === 'test_start' && !this.marks.firstTest) this.marks.firstTest = this.now();
  }

  async teardown() {
    // Not serving yet when this file started (the first file of a run): all its CPU so far counts.
    if (!this.motoPid) {
      this.motoPid = sharedMotoPid();
      this.marks.start.moto = 0;
    }
    const end = this.now();
    const out = process.env.EKS_AVIATRIX_CPU_LEDGER;
    if (out) {
      const { start, loaded = end, firstTest = end } = this.marks;
      const d = (a, b, k) => b[k] - a[k];
      const row = {
        file: this.file.replace(`${process.cwd()}/`, ''),
        worker: process.env.JEST_WORKER_ID,
        load: d(start, loaded, 'self'),
        beforeAll: d(loaded, firstTest, 'self'),
        tests: d(firstTest, end, 'self'),
        self: d(start, end, 'self'),
        moto: d(start, end, 'moto'),
        wall: d(start, end, 'wall'),
      };
      fs.appendFileSync(out, `${JSON.stringify(row)}\n`);
    }
    await super.teardown();
  }
}

module.exports = CpuLedgerEnvironment;
