// Copies non-TypeScript files the code reads at run time (the Avro .avsc schemas) next to the
// compiled output of a build: node tools/copy-assets.cjs dist/apps/ingest
const fs = require('node:fs');
const path = require('node:path');

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node tools/copy-assets.cjs <build output dir>');
  process.exit(2);
}
const root = path.resolve(__dirname, '..');
const from = path.join(root, 'libs/shared/src/events/schemas');
const to = path.join(root, outDir, 'libs/shared/src/events/schemas');
fs.mkdirSync(to, { recursive: true });
for (const file of fs.readdirSync(from).filter((f) => f.endsWith('.avsc'))) {
  fs.copyFileSync(path.join(from, file), path.join(to, file));
}
