// The README's configuration table is generated from lib/config.ts (npm run docs:config): a key
// added, renamed or re-documented there without regenerating it fails here.
import * as fs from 'fs';
import { configTable, README, readmeWithTable } from '../../scripts/config-table';

test('the README carries the table lib/config.ts generates (run `npm run docs:config` when this fails)', () => {
  const readme = fs.readFileSync(README, 'utf8');
  expect(readme).toBe(readmeWithTable(readme));
});

test('the table has every key with its default, and the required keys marked', () => {
  const table = configTable();
  expect(table).toContain('| `secondaryCidr` | `string` | `"100.64.0.0/16"` |');
  expect(table).toContain('| `aviatrix.controllerUrl` | `string` | required |');
  expect(table).toContain('| `aviatrix.credentialsKmsKeyArn` | `string` | none |');
  expect(table).toContain('| `routeCheck` | `\'refuse\' \\| \'warn\'` | `"refuse"` |');
  // The drift check bites: a README with one row changed is not the generated one.
  const readme = fs.readFileSync(README, 'utf8');
  const edited = readme.replace('| `driftSchedule` | `string` | `"rate(6 hours)"`', '| `driftSchedule` | `string` | `"rate(1 hour)"`');
  expect(edited).not.toBe(readme);
  expect(readmeWithTable(edited)).toBe(readme);
});
