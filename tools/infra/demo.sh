#!/usr/bin/env bash
# `npm start`: the local stack (Kafka, Schema Registry, PostgreSQL), migrations, and all four services,
# each on its own port, logging JSON to .infra/demo/<app>.log. Ctrl-C stops the services (the stack
# keeps running for the next start; `npm run infra:down` stops it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
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

log "building the services"
npx --no-install nx run-many -t build -p shared ingest submitter reconciler backfiller --outputStyle=stream >/dev/null
log "running database migrations"
node dist/libs/shared/libs/shared/src/state/migrate.cli.js up

declare -A PORTS=([ingest]=3001 [submitter]=3002 [reconciler]=3003 [backfiller]=3004)
pids=()
stop_all() {
  log "stopping services (SIGTERM, graceful)"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap stop_all INT TERM EXIT
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
  Kafka       $KAFKA_BROKERS          topics: $KAFKA_TOPIC_PREFIX.*
  Registry    $SCHEMA_REGISTRY_URL/subjects
  PostgreSQL  $DATABASE_URL
  logs        .infra/demo/<service>.log
Ctrl-C stops the services.
INFO
wait
