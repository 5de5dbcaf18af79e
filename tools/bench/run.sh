#!/usr/bin/env bash
# `npm run bench`: builds what the benchmarks run, starts (or reuses) the local stack, and runs
# each benchmark, printing figures next to a baseline measured in the same run.
#   npm run bench                       every benchmark
#   npm run bench -- webhooks [--requests N --concurrency C[,C...] --runs N]
#   npm run bench -- submitter [--events N]
#   npm run bench -- reconcile [--records N --page-size P]
#   npm run bench -- fairness [--runs N --backfill N --burst N]
#   npm run bench -- polling [--customers N --interval S --window S --runs N]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
source tools/infra/node.sh
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false TZ=UTC
[ -d node_modules ] || bash tools/infra/npm-install.sh
eval "$(bash tools/infra/infra.sh up)"
export KAFKA_BROKERS SCHEMA_REGISTRY_URL DATABASE_URL
npx --no-install nx run-many -t build -p ingest submitter reconciler simulators bench --outputStyle=stream >/dev/null
which="${1:-all}"
[ $# -gt 0 ] && shift
if [ "$which" = all ] || [ "$which" = webhooks ]; then node dist/tools/bench/tools/bench/src/webhook-bench.js "$@"; fi
if [ "$which" = all ] || [ "$which" = submitter ]; then node dist/tools/bench/tools/bench/src/submitter-bench.js "$@"; fi
if [ "$which" = all ] || [ "$which" = reconcile ]; then node dist/tools/bench/tools/bench/src/reconcile-bench.js "$@"; fi
if [ "$which" = all ] || [ "$which" = fairness ]; then node dist/tools/bench/tools/bench/src/fairness-bench.js "$@"; fi
if [ "$which" = all ] || [ "$which" = polling ]; then node dist/tools/bench/tools/bench/src/polling-bench.js "$@"; fi
