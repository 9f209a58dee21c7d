# shellcheck shell=bash
# Shared by registry.sh and dockerd.sh (sourced). Callers set LOG and PIDFILE.

# Start "$@" detached in its own session (so it outlives the caller), output
# to $LOG, with every inherited fd above 2 closed: a daemon holding e.g. the
# pipe of a caller's $(...) would make that caller hang forever.
launch_daemon() {
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd="${fd##*/}"
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid "$@"
  ) >>"$LOG" 2>&1 </dev/null &
}

# True if $PIDFILE names a live process whose command line contains $1
# (not some other process that reused the pid).
pid_alive_as() {
  [ -f "$PIDFILE" ] && grep -q "$1" "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null
}
