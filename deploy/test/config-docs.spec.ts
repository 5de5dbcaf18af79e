import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configTable, withConfigTables } from '@raise-sync/shared/config';
import { ALL_SECTIONS, VARIABLES } from './config-catalogue';
import { REPO_ROOT } from './dockerfile';

const DOC = join(REPO_ROOT, 'docs/configuration.md');

describe('docs/configuration.md', () => {
  it('has the tables the declarations generate (npm run docs:config rewrites them)', () => {
    const text = readFileSync(DOC, 'utf8');
    const generated = withConfigTables(text, ALL_SECTIONS);
    if (process.env['WRITE_CONFIG_DOCS'] === '1') {
      writeFileSync(DOC, generated);
    }
    expect(text).toBe(generated);
  });

  it('lists every declared variable exactly once', () => {
    const text = readFileSync(DOC, 'utf8');
    for (const name of VARIABLES.keys()) {
      const rows = text.split('\n').filter((line) => line.startsWith(`| \`${name}\``));
      expect({ name, rows: rows.length }).toEqual({ name, rows: 1 });
    }
  });

  it('marks secrets and required variables in the table', () => {
    const shared = ALL_SECTIONS.find((s) => s.owner === 'libs/shared');
    const table = shared ? configTable(shared) : '';
    expect(table).toMatch(/^\| `SECRETS_KEY` +\| required +\| .*\(secret\) +\|$/m);
    expect(table).toMatch(/^\| `KAFKA_TOPIC_PREFIX` +\| `raise-sync` +\|/m);
  });
});
