// Copies non-TypeScript files the code reads at run time next to the compiled output of a build:
// the Avro .avsc schemas, and every `static/` folder under the app's own src (e.g. the console's
// page). Usage: node tools/copy-assets.cjs dist/apps/<app>
const fs = require('node:fs');
const path = require('node:path');

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node tools/copy-assets.cjs <build output dir>');
  process.exit(2);
}
const root = path.resolve(__dirname, '..');

function copyFiles(from, to, keep) {
  fs.mkdirSync(to, { recursive: true });
  for (const file of fs.readdirSync(from).filter(keep)) {
    fs.copyFileSync(path.join(from, file), path.join(to, file));
  }
}

copyFiles(
  path.join(root, 'libs/shared/src/events/schemas'),
  path.join(root, outDir, 'libs/shared/src/events/schemas'),
  (f) => f.endsWith('.avsc'),
);

// dist/apps/<app> holds the compiled tree of apps/<app>/src under apps/<app>/src.
const app = path.basename(outDir);
const appSrc = path.join(root, 'apps', app, 'src');
function staticFolders(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (!entry.isDirectory()) return [];
    const full = path.join(dir, entry.name);
    return entry.name === 'static' ? [full] : staticFolders(full);
  });
}
for (const folder of staticFolders(appSrc)) {
  copyFiles(folder, path.join(root, outDir, path.relative(root, folder)), () => true);
}
