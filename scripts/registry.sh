#!/usr/bin/env bash
# Local plain-HTTP OCI registry for the tests (Debian's docker-registry,
# i.e. distribution 2.x). Usage: scripts/registry.sh start|stop|url|status
#
#   SOCKERLESS_TEST_REGISTRY_PORT  listen port on 127.0.0.1 (default 5000)
#   SOCKERLESS_TEST_STATE          state dir (default /tmp/sockerless-test)
#
# Files under $STATE: registry.yml (config), registry-data/ (blobs),
# registry.pid, registry.log.
set -euo pipefail

PORT="${SOCKERLESS_TEST_REGISTRY_PORT:-5000}"
STATE="${SOCKERLESS_TEST_STATE:-/tmp/sockerless-test}"
ADDR="127.0.0.1:$PORT"
CONFIG="$STATE/registry.yml"
DATA="$STATE/registry-data"
PIDFILE="$STATE/registry.pid"
LOG="$STATE/registry.log"
BIN=/usr/bin/docker-registry
START_TIMEOUT=20

die() { echo "registry.sh: ERROR: $*" >&2; exit 1; }

answering() {
  # /v2/ returns 200 when the registry is up and has no auth configured.
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$ADDR/v2/" || true)" = 200 ]
}

# shellcheck source=scripts/daemon-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"

pid_alive() { pid_alive_as docker-registry; }

start() {
  if answering; then
    echo "registry.sh: already running at $ADDR"
    return 0
  fi
  [ -x "$BIN" ] || die "$BIN not found (run scripts/install-deps.sh)"
  command -v curl >/dev/null || die "curl not found (run scripts/install-deps.sh)"
  if pid_alive; then
    # Our process exists but does not answer: stale/wedged, restart it.
    stop
  fi
  mkdir -p "$DATA"
  # Own config rather than /etc/docker/registry/config.yml: that one enables
  # htpasswd auth and listens on all interfaces.
  cat >"$CONFIG" <<YAML
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $DATA
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $ADDR
  # Fixed secret: silences the "No HTTP secret provided" warning.
  secret: sockerless-test-only
  headers:
    X-Content-Type-Options: [nosniff]
YAML
  launch_daemon "$BIN" serve "$CONFIG"
  echo $! >"$PIDFILE"

  local deadline=$((SECONDS + START_TIMEOUT))
  until answering; do
    if ! pid_alive; then
      tail -n 20 "$LOG" >&2 || true
      die "docker-registry exited during startup (log: $LOG)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$LOG" >&2 || true
      die "registry did not answer GET http://$ADDR/v2/ with 200 within ${START_TIMEOUT}s (log: $LOG)"
    fi
    sleep 0.2
  done
  echo "registry.sh: started at $ADDR (pid $(cat "$PIDFILE"), data $DATA)"
}

stop() {
  if ! pid_alive; then
    rm -f "$PIDFILE"
    echo "registry.sh: not running"
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  kill "$pid"
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" || true
  fi
  rm -f "$PIDFILE"
  echo "registry.sh: stopped (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$ADDR" ;;
  status)
    if answering; then echo "running at $ADDR"; else echo "not running"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|url|status" >&2
    exit 2
    ;;
esac
