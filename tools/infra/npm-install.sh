#!/usr/bin/env bash
# Installs the locked dependencies. `npm ci` first; the npm 11 on our machines writes lockfiles that
# leave out optional packages for other platforms (e.g. @swc/core-darwin-arm64), which its own
# `npm ci` then rejects as "out of sync". In that case `npm install` installs the same locked
# versions and only fills in those entries.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/infra/node.sh
command -v npm >/dev/null 2>&1 || { echo "missing prerequisite: npm (it comes with Node.js)" >&2; exit 2; }
if npm ci --no-fund --no-audit; then
  exit 0
fi
echo "[npm-install] npm ci refused the lockfile; installing the locked versions with npm install" >&2
npm install --no-fund --no-audit
