import { join } from 'node:path';
import { importCycles } from './import-cycles';

const ROOT = join(__dirname, '../..');
const FIXTURE_CYCLE = ['fixtures/cycle/first.ts', 'fixtures/cycle/second.ts'];

describe('import cycles', () => {
  it('finds a cycle that only type imports close, and nothing hanging off it', () => {
    expect(importCycles(__dirname, ['fixtures/cycle'])).toEqual([FIXTURE_CYCLE]);
  });

  it('finds none in the repository but the fixture (apps, libs, tools, deploy)', () => {
    // The fixture lies under tools/: finding it shows the scan walked the tree.
    expect(importCycles(ROOT, ['apps', 'libs', 'tools', 'deploy'])).toEqual([
      FIXTURE_CYCLE.map((file) => `tools/eslint/${file}`),
    ]);
  });
});
