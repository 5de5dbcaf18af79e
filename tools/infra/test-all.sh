#!/usr/bin/env bash
# The README's test command (`npm test`), and exactly what CI runs.
#   1. checks prerequisites, 2. starts (or reuses) Kafka, the Schema Registry and PostgreSQL,
#   3. runs the format check, promtool on the alert rules, lint, typecheck and unit tests (the
#      dashboards' Grafana schema check among them), builds every project, then integration and e2e tests
#      against the real services, 4. prints one summary line: "tests: N passed, N failed, N skipped".
# Reuses services named by KAFKA_BROKERS / SCHEMA_REGISTRY_URL / DATABASE_URL when all are set.
# Stops what it started unless KEEP_STACK=1.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export TZ=UTC NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false FORCE_COLOR=0

log() { printf '[test-all] %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { log "missing prerequisite: $1 ($2)"; exit 2; }; }
need npm "npm comes with Node.js; it also fetches Node 24 when the installed one is older"
source tools/infra/node.sh
log "node $(node -v)"
if [ ! -d node_modules ]; then
  log "installing the locked npm dependencies"
  bash tools/infra/npm-install.sh || { log "npm could not install the dependencies"; exit 2; }
fi

# The console's browser test drives Debian's Chromium (headless, through playwright-core).
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's chromium for the browser tests"
    { apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; } >/dev/null 2>&1 \
      || { log "missing prerequisite: chromium (apt-get install chromium failed; install it or set CHROMIUM_PATH)"; exit 2; }
  else
    log "missing prerequisite: chromium for the browser tests (apt-get install chromium, or set CHROMIUM_PATH)"
    exit 2
  fi
fi

started_stack=0
if [ -n "${KAFKA_BROKERS:-}" ] && [ -n "${SCHEMA_REGISTRY_URL:-}" ] && [ -n "${DATABASE_URL:-}" ]; then
  log "reusing services from the environment: KAFKA_BROKERS=$KAFKA_BROKERS SCHEMA_REGISTRY_URL=$SCHEMA_REGISTRY_URL"
else
  bash tools/infra/infra.sh env >/dev/null 2>&1 || started_stack=1
  t0=$(date +%s)
  exports="$(bash tools/infra/infra.sh up)" || { log "could not start the local stack (see the messages above)"; exit 2; }
  eval "$exports"
  log "local stack ready in $(( $(date +%s) - t0 ))s: KAFKA_BROKERS=$KAFKA_BROKERS SCHEMA_REGISTRY_URL=$SCHEMA_REGISTRY_URL"
fi
export KAFKA_BROKERS SCHEMA_REGISTRY_URL DATABASE_URL

cleanup() {
  if [ "$started_stack" = 1 ] && [ "${KEEP_STACK:-0}" != 1 ]; then
    log "stopping the local stack this run started (KEEP_STACK=1 keeps it)"
    bash tools/infra/infra.sh down >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

RESULTS="$ROOT/tmp/test-results"
rm -rf "$RESULTS" && mkdir -p "$RESULTS"
export RAISE_SYNC_TEST_RESULTS_DIR="$RESULTS"

status=0
step() {
  local name=$1; shift
  local t0=$(date +%s)
  log "== $name"
  if "$@"; then log "== $name ok ($(( $(date +%s) - t0 ))s)"; else log "== $name FAILED ($(( $(date +%s) - t0 ))s)"; status=1; fi
}
nx() { npx --no-install nx "$@" --outputStyle=stream; }

suite_t0=$(date +%s)
step "format check" npx --no-install prettier --check . --log-level warn
step "alert rules (promtool check rules + test rules)" bash tools/infra/promtool.sh
step "lint + typecheck + unit tests" nx run-many -t lint typecheck test --parallel=2
step "build" nx run-many -t build --parallel=2
step "integration tests (real Kafka, registry, PostgreSQL)" nx run-many -t int-test --parallel=1
step "e2e tests (built apps as processes)" nx run-many -t e2e --parallel=1 --excludeTaskDependencies

node - "$RESULTS" "$(( $(date +%s) - suite_t0 ))" <<'JS' || status=1
const fs = require('node:fs');
const path = require('node:path');
const [dir, seconds] = process.argv.slice(2);
// Only the summary reporter's files (tests may leave other artifacts in the folder).
const runs = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))).filter((r) => r && typeof r.name === 'string' && typeof r.passed === 'number');
const sum = (k) => runs.reduce((n, r) => n + r[k], 0);
for (const r of runs.sort((a, b) => a.name.localeCompare(b.name))) {
  console.log(`  ${r.name.padEnd(32)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed ${String(r.skipped).padStart(3)} skipped  ${(r.durationMs / 1000).toFixed(1)}s`);
  for (const f of r.failedSuiteFiles) console.log(`    failed suite: ${f}`);
}
console.log(`suite duration: ${seconds}s`);
console.log(`tests: ${sum('passed')} passed, ${sum('failed') + sum('failedSuites')} failed, ${sum('skipped')} skipped`);
if (runs.length === 0 || sum('passed') === 0) { console.log('no test ran'); process.exit(1); }
process.exit(sum('failed') + sum('failedSuites') > 0 ? 1 : 0);
JS

exit $status
