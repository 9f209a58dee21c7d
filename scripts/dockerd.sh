#!/usr/bin/env bash
# Reference Docker Engine (Debian docker.io: dockerd 20.10, API 1.41) that the
# compatibility tests compare Sockerless against.
# Usage: scripts/dockerd.sh start|stop|purge|sock|host|status [NAME]
#
#   NAME                   instance name (default "ref", the shared reference
#                          engine). Another name runs a separate, private
#                          dockerd with its own socket, data-root, exec-root,
#                          pidfile and log ($STATE/NAME-docker.*): tests that
#                          stop and start an engine use one, never "ref".
#                          `purge NAME` stops such an engine and deletes all it
#                          left: its state, log, and the Linux bridges of its
#                          networks (dockerd keeps those on the host when it
#                          stops; leaked ones use up the address pools that
#                          every engine's `network create` draws from).
#
#   SOCKERLESS_DOCKERD_ARGS  extra dockerd arguments, word-split (e.g. a TLS
#                          TCP listener: "-H tcp://127.0.0.1:PORT --tlsverify
#                          --tlscacert ca.pem --tlscert s.pem --tlskey k.pem")
#   SOCKERLESS_TEST_STATE  state dir (default /tmp/sockerless-test). Keep it
#                          short: containerd's sockets live under it and unix
#                          socket paths are limited to 108 bytes.
#
# Files under $STATE: ref-docker.sock, ref-docker.pid, ref-docker.log,
# ref-docker-data/ (images, containers), ref-docker-exec/ (runtime state,
# including the containerd that dockerd starts and supervises itself - no
# system containerd is needed).
#
# Networking, as observed with this configuration (--bridge=none,
# --iptables=false, --ip6tables=false) on the test VM:
#   - There is no default "bridge" network: `docker network ls` shows only
#     "host" and "none".
#   - `docker run` with no --network gets HostConfig.NetworkMode "default";
#     NetworkSettings.Networks still has a "bridge" key, but with empty
#     NetworkID/IPAddress, and the container has ONLY a loopback interface
#     (like --network none). `--network bridge` is accepted and behaves the same.
#   - `-p 127.0.0.1:18080:8080` is accepted (exit 0) but nothing is published:
#     NetworkSettings.Ports is {} and the host port does not answer.
#   - `--network host` works (container sees the VM's interfaces and can reach
#     127.0.0.1:5000, the test registry).
#   - `docker network create NAME` WORKS: it creates a Linux bridge
#     (br-<id>, a free 172.17-31.x.0/16 subnet from the default pools) with no NAT.
#     Containers on it get eth0 with an address, can reach each other by IP,
#     and by name through the embedded DNS at 127.0.0.11.
#   - Pulls from 127.0.0.0/8 registries use plain HTTP (insecure by default).
#   - Beware: Debian busybox-static 1.35 `wget -T N` segfaults (exit 139),
#     also on the host; use `timeout N wget ...` instead.
set -euo pipefail

STATE="${SOCKERLESS_TEST_STATE:-/tmp/sockerless-test}"
NAME="${2:-ref}"
[[ "$NAME" =~ ^[a-z0-9][a-z0-9-]{0,23}$ ]] || {
  echo "dockerd.sh: ERROR: instance name must match [a-z0-9][a-z0-9-]{0,23}: $NAME" >&2
  exit 2
}
SOCK="$STATE/$NAME-docker.sock"
PIDFILE="$STATE/$NAME-docker.pid"
LOG="$STATE/$NAME-docker.log"
DATA="$STATE/$NAME-docker-data"
EXEC="$STATE/$NAME-docker-exec"
START_TIMEOUT=60
STOP_TIMEOUT=40 # dockerd gives running containers 15 s to stop on shutdown

# dockerd needs runc, docker-init, containerd(-shim) from /usr/sbin and /usr/bin.
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DOCKER="$(command -v docker || true)"

die() { echo "dockerd.sh: ERROR: $*" >&2; exit 1; }

answering() {
  [ -n "$DOCKER" ] && [ -S "$SOCK" ] && "$DOCKER" -H "unix://$SOCK" version >/dev/null 2>&1
}

# shellcheck source=scripts/daemon-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"

pid_alive() { pid_alive_as dockerd; }

start() {
  if answering; then
    echo "dockerd.sh: already running at unix://$SOCK"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  command -v dockerd >/dev/null || die "dockerd not found (run scripts/install-deps.sh)"
  [ -n "$DOCKER" ] || die "docker CLI not found (run scripts/install-deps.sh)"
  if pid_alive; then
    # Running but not answering: wedged; restart it.
    stop
  fi
  # A stale pid file naming a reused pid would make dockerd refuse to start.
  rm -f "$PIDFILE"
  mkdir -p "$STATE" "$DATA" "$EXEC"
  local extra=()
  read -r -a extra <<<"${SOCKERLESS_DOCKERD_ARGS:-}"
  # --iptables/--ip6tables=false and --bridge=none: don't touch the VM's
  # firewall or create docker0.
  launch_daemon dockerd \
    -H "unix://$SOCK" \
    --iptables=false --ip6tables=false --bridge=none \
    --data-root "$DATA" \
    --exec-root "$EXEC" \
    --pidfile "$PIDFILE" \
    "${extra[@]}"
  local pid=$!

  local deadline=$((SECONDS + START_TIMEOUT))
  until answering; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$LOG" >&2 || true
      die "dockerd exited during startup (log: $LOG)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$LOG" >&2 || true
      die "dockerd did not answer 'docker -H unix://$SOCK version' within ${START_TIMEOUT}s (log: $LOG)"
    fi
    sleep 0.5
  done
  echo "dockerd.sh: started at unix://$SOCK (pid $(cat "$PIDFILE"), log $LOG)"
}

stop() {
  if ! pid_alive; then
    rm -f "$PIDFILE"
    echo "dockerd.sh: not running"
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  # SIGTERM: dockerd stops its containers and its managed containerd, then exits.
  kill "$pid"
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "dockerd.sh: dockerd did not exit within ${STOP_TIMEOUT}s, killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
      # A SIGKILLed dockerd leaves its containerd behind; end that too.
      local cpid="$EXEC/containerd/containerd.pid"
      if [ -f "$cpid" ]; then kill "$(cat "$cpid")" 2>/dev/null || true; fi
      break
    fi
    sleep 0.5
  done
  rm -f "$PIDFILE"
  # dockerd leaves mounts behind even on a clean exit (e.g. the nsfs bind
  # mount at $EXEC/netns/default); unmount them so $STATE can be deleted.
  awk '{print $2}' /proc/mounts | { grep -E "^($EXEC|$DATA)/" || true; } | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
  echo "dockerd.sh: stopped (pid $pid)"
}

purge() {
  [ "$NAME" != ref ] || die "purge is for private engines, not the shared reference engine"
  local bridges=()
  if answering; then
    # a bridge network's Linux bridge is br-<first 12 hex of its id>
    mapfile -t bridges < <("$DOCKER" -H "unix://$SOCK" network ls -q --no-trunc --filter driver=bridge | cut -c1-12)
  fi
  stop
  local id
  for id in "${bridges[@]}"; do
    ip link delete "br-$id" 2>/dev/null || true
  done
  rm -rf "$DATA" "$EXEC" "$LOG"
  echo "dockerd.sh: purged $NAME (${#bridges[@]} bridge(s) removed)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  purge) purge ;;
  sock) echo "$SOCK" ;;
  host) echo "unix://$SOCK" ;;
  status)
    if answering; then echo "running at unix://$SOCK"; else echo "not running"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|purge|sock|host|status [NAME]" >&2
    exit 2
    ;;
esac
