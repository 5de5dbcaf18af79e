#!/usr/bin/env bash
# `npm start`: the local stack (Kafka, Schema Registry, PostgreSQL), migrations, the Raise/VOMO
# simulator, all four services (each on its own port, JSON logs in .infra/demo/<app>.log) and a demo
# customer onboarded through the admin API whose simulated activity flows through the pipeline.
# Ctrl-C stops the services, the simulator and the driver (the stack keeps running for the next
# start; `npm run infra:down` stops it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
source tools/infra/node.sh
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
log() { printf '[demo] %s\n' "$*" >&2; }
[ -d node_modules ] || { log "installing npm dependencies"; bash tools/infra/npm-install.sh; }

eval "$(bash tools/infra/infra.sh up)"
export KAFKA_BROKERS SCHEMA_REGISTRY_URL DATABASE_URL
export KAFKA_TOPIC_PREFIX="${KAFKA_TOPIC_PREFIX:-raise-sync}"
mkdir -p .infra/demo
# A local AES-256 key for credentials at rest, made once per checkout (never committed).
[ -s .infra/demo/secrets.key ] || node -e "process.stdout.write(require('crypto').randomBytes(32).toString('hex'))" > .infra/demo/secrets.key
export SECRETS_KEY="$(cat .infra/demo/secrets.key)"
[ -s .infra/demo/admin.token ] || node -e "process.stdout.write(require('crypto').randomBytes(24).toString('hex'))" > .infra/demo/admin.token
export ADMIN_TOKEN="$(cat .infra/demo/admin.token)"
SIM_PORT="${SIM_PORT:-4010}"
export RAISE_API_URL="http://127.0.0.1:$SIM_PORT/raise" VOMO_API_URL="http://127.0.0.1:$SIM_PORT/vomo/v1"
export WEBHOOK_PUBLIC_URL="http://127.0.0.1:3001" SOURCE_RATE_LIMITS="${SOURCE_RATE_LIMITS:-raise=20:40,vomo=10:20}"

log "building the services"
npx --no-install nx run-many -t build -p shared ingest submitter reconciler backfiller simulators bench --outputStyle=stream >/dev/null
log "running database migrations"
node dist/libs/shared/libs/shared/src/state/migrate.cli.js up

declare -A PORTS=([ingest]=3001 [submitter]=3002 [reconciler]=3003 [backfiller]=3004)
pids=()
stop_all() {
  trap - INT TERM EXIT
  log "stopping services (SIGTERM, graceful)"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap stop_all INT TERM EXIT
node dist/tools/simulators/tools/simulators/src/main.js --port "$SIM_PORT" --seed 42 >.infra/demo/simulator.log 2>&1 &
pids+=($!)
for app in ingest submitter reconciler backfiller; do
  HTTP_PORT=${PORTS[$app]} SERVICE_NAME=$app node "dist/apps/$app/apps/$app/src/main.js" >".infra/demo/$app.log" 2>&1 &
  pids+=($!)
done
for app in ingest submitter reconciler backfiller; do
  port=${PORTS[$app]}
  for _ in $(seq 60); do curl -fsS -o /dev/null "http://127.0.0.1:$port/health/ready" && break; sleep 1; done
  curl -fsS -o /dev/null "http://127.0.0.1:$port/health/ready" || { log "$app did not become ready; see .infra/demo/$app.log"; exit 1; }
done
cat <<INFO
raise-sync is running:
  ingest      http://127.0.0.1:3001/health/ready   http://127.0.0.1:3001/metrics
  submitter   http://127.0.0.1:3002/health/ready   http://127.0.0.1:3002/metrics
  reconciler  http://127.0.0.1:3003/health/ready   http://127.0.0.1:3003/metrics
  backfiller  http://127.0.0.1:3004/health/ready   http://127.0.0.1:3004/metrics
  console     http://127.0.0.1:3002/console   (sync health, audit trail, dead letters; sign in with a token below)
  admin API   http://127.0.0.1:3001/admin/docs (customers)   http://127.0.0.1:3002/admin/docs (destinations, dead letters, ledger)
              http://127.0.0.1:3004/admin/docs (backfills)   http://127.0.0.1:3003/admin/docs (reconciliations)
  (token)       (Authorization: Bearer \$(cat .infra/demo/admin.token))
  simulator   http://127.0.0.1:$SIM_PORT/_sim/orgs   (Raise at /raise/api, VOMO at /vomo/v1)
  Kafka       $KAFKA_BROKERS          topics: $KAFKA_TOPIC_PREFIX.*
  Registry    $SCHEMA_REGISTRY_URL/subjects
  PostgreSQL  $DATABASE_URL
  logs        .infra/demo/<service>.log
Ctrl-C stops the services.
INFO
node dist/tools/bench/tools/bench/src/demo-driver.js --sim "http://127.0.0.1:$SIM_PORT" --ingest http://127.0.0.1:3001 --submitter http://127.0.0.1:3002 --backfiller http://127.0.0.1:3004 &
pids+=($!)
wait
