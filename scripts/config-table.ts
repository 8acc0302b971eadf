// Writes the README's configuration table from lib/config.ts (`npm run docs:config`): each key from
// the config interfaces with its type and doc comment, and its default from what parseConfig fills
// in for a config holding only the required keys. test/unit/config-table.test.ts fails when the
// README's copy differs, so a key added to lib/config.ts cannot go undocumented.
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { parseConfig } from '../lib/config';

const ROOT = path.join(__dirname, '..');
const CONFIG_TS = path.join(ROOT, 'lib', 'config.ts');
export const README = path.join(ROOT, 'README.md');
const START = '<!-- config-table:start (npm run docs:config writes this table from lib/config.ts) -->';
const END = '<!-- config-table:end -->';

/** The keys parseConfig cannot do without, with values of the right shape. */
const REQUIRED = {
  aviatrix: { controllerUrl: 'https://controller', credentialsSecretName: 'secret', controllerRoleArn: 'arn:aws:iam::000000000001:role/r' },
};

interface Row {
  key: string;
  type: string;
  doc: string;
}

function rows(source: ts.SourceFile, interfaceName: string, prefix: string): Row[] {
  const decl = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === interfaceName);
  if (!decl) throw new Error(`lib/config.ts has no interface ${interfaceName}`);
  return decl.members.filter(ts.isPropertySignature).flatMap((member) => {
    const key = `${prefix}${member.name.getText(source)}`;
    const typeText = member.type!.getText(source);
    const nested = source.statements.some((s) => ts.isInterfaceDeclaration(s) && s.name.text === typeText);
    if (nested) return rows(source, typeText, `${key}.`);
    const doc = ts.getJSDocCommentsAndTags(member).map((d) => (typeof d.comment === 'string' ? d.comment : '')).join(' ');
    if (!doc.trim()) throw new Error(`lib/config.ts: ${interfaceName}.${member.name.getText(source)} has no doc comment; say what the key means`);
    return [{ key, type: typeText.replace(/\s+/g, ' '), doc: doc.replace(/\s+/g, ' ').trim() }];
  });
}

function valueAt(obj: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

export function configTable(): string {
  const source = ts.createSourceFile(CONFIG_TS, fs.readFileSync(CONFIG_TS, 'utf8'), ts.ScriptTarget.ES2022, true);
  const defaults = parseConfig(REQUIRED);
  const lines = ['| key | type | default | meaning |', '|---|---|---|---|'];
  for (const row of rows(source, 'OnboardingConfig', '')) {
    const required = valueAt(REQUIRED, row.key) !== undefined;
    const value = valueAt(defaults, row.key);
    const shown = required ? 'required' : value === undefined ? 'none' : `\`${JSON.stringify(value)}\``;
    lines.push(`| \`${row.key}\` | \`${cell(row.type)}\` | ${cell(shown)} | ${cell(row.doc)} |`);
  }
  return lines.join('\n');
}

/** The README with its table replaced by the current one. */
export function readmeWithTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} ... ${END} block`);
  return `${readme.slice(0, start + START.length)}\n${configTable()}\n${readme.slice(end)}`;
}

if (require.main === module) {
  fs.writeFileSync(README, readmeWithTable(fs.readFileSync(README, 'utf8')));
  process.stdout.write('README.md: configuration table written from lib/config.ts\n');
}
