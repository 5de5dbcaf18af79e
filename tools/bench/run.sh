#!/usr/bin/env bash
# `npm run bench`: builds what the benchmarks run, starts (or reuses) the local stack, and runs
# each benchmark, printing figures next to a baseline measured in the same run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false TZ=UTC
[ -d node_modules ] || bash tools/infra/npm-install.sh
eval "$(bash tools/infra/infra.sh up)"
export KAFKA_BROKERS SCHEMA_REGISTRY_URL DATABASE_URL
npx --no-install nx run-many -t build -p ingest simulators bench --outputStyle=stream >/dev/null
node dist/tools/bench/tools/bench/src/webhook-bench.js "$@"
