#!/usr/bin/env bash
# Checks the Prometheus alert rules with promtool, the way Prometheus itself would load them:
#   promtool check rules deploy/prometheus/alerts.yml   (syntax, PromQL, templates)
#   promtool test rules  deploy/prometheus/alerts.test.yml   (the rules' unit tests)
# Uses $PROMTOOL or a promtool on PATH; otherwise takes promtool out of Debian's prometheus
# package once (apt-get download + dpkg-deb -x into .infra/promtool, no server installed or run).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
log() { printf '[promtool] %s\n' "$*" >&2; }

tool="${PROMTOOL:-}"
[ -n "$tool" ] || tool="$(command -v promtool || true)"
if [ -z "$tool" ]; then
  dir="$ROOT/.infra/promtool"
  tool="$dir/usr/bin/promtool"
  if [ ! -x "$tool" ]; then
    command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || {
      log "missing prerequisite: promtool (install Prometheus's promtool, or set PROMTOOL to it)"
      exit 2
    }
    log "taking promtool out of Debian's prometheus package (one time)"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && { apt-get download -q prometheus >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get download -q prometheus >/dev/null 2>&1; }; }) || {
      log "missing prerequisite: promtool ('apt-get download prometheus' failed; install promtool or set PROMTOOL)"
      exit 2
    }
    mkdir -p "$dir"
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
    mkdir -p "$dir/usr/bin"
    mv "$tmp/x/usr/bin/promtool" "$tool"
  fi
fi
"$tool" --version 2>&1 | head -1 >&2
"$tool" check rules deploy/prometheus/alerts.yml
(cd deploy/prometheus && "$tool" test rules alerts.test.yml)
