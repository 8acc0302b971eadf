// Test files in one jest module registry: which, and why, in test/setup/suite-groups.js.
import { runSuiteGroup } from '../setup/suite-group';

runSuiteGroup(__filename);
