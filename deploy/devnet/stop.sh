#!/usr/bin/env bash
# Stops a devnet started by deploy/devnet/start.sh: each client by the PID recorded in DIR/pids (validator,
# beacon node, geth, in that order), SIGTERM first, SIGKILL after 20 s. A PID whose process is no longer the
# recorded client (reused) is left alone.
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
pids="$1/pids"
[[ -f "$pids" ]] || { echo "no $pids" >&2; exit 1; }
mapfile -t lines < <(tac "$pids")
for line in "${lines[@]}"; do
  read -r name pid <<<"$line"
  [[ -n "${pid:-}" ]] || continue
  if ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"; then
    echo "$name (pid $pid) is not running"
    continue
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$name (pid $pid) ignored SIGTERM; killing"
    kill -KILL "$pid"
  fi
  echo "stopped $name (pid $pid)"
done
