#!/usr/bin/env bash
# Mainnet-scale treegen scan benchmark (issue 6): a simulated beacon node and the scanning client as two
# processes on loopback, each under /usr/bin/time -v; prints wall time, peak RSS and rates per mode.
#
#   deploy/bench/mainnet.sh                          # optimized full interval (6,300 epochs) + baseline 64 epochs
#   EPOCHS=100 BASELINE_EPOCHS=32 deploy/bench/mainnet.sh
#   MODES=optimized deploy/bench/mainnet.sh
#
# Variables: VALIDATORS (1100000), PROTOCOL (45000), INTERVAL_EPOCHS (6300), EPOCHS (0 = whole interval, optimized),
# BASELINE_EPOCHS (64; baseline is extrapolated linearly to the interval), MODES ("optimized baseline"),
# PORT (15099), OUT (a temp dir), CLIENT_GOMEMLIMIT (empty; e.g. 1700MiB: the Go soft memory limit of the scanning
# client, what treegen would set with debug.SetMemoryLimit).
set -euo pipefail
cd "$(dirname "$0")/../.."
VALIDATORS=${VALIDATORS:-1100000}
PROTOCOL=${PROTOCOL:-45000}
INTERVAL_EPOCHS=${INTERVAL_EPOCHS:-6300}
EPOCHS=${EPOCHS:-0}
BASELINE_EPOCHS=${BASELINE_EPOCHS:-64}
MODES=${MODES:-"optimized baseline"}
PORT=${PORT:-15099}
OUT=${OUT:-$(mktemp -d /tmp/mainnetbench.XXXXXX)}
mkdir -p "$OUT"
if [ ! -x /usr/bin/time ]; then
	echo "installing GNU time (apt-get install time)" >&2
	sudo apt-get install -y time >/dev/null 2>&1 || apt-get install -y time >/dev/null
fi
go build -o "$OUT/mainnetbench" ./chain/interval/bench/cmd/mainnetbench
SHAPE=(--validators "$VALIDATORS" --protocol "$PROTOCOL" --interval-epochs "$INTERVAL_EPOCHS")

field() { # field <time -v file> <label>
	grep -F "$2" "$1" | sed 's/.*: //' | tail -1
}

server_pid=""
cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill "$server_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

rows=()
for mode in $MODES; do
	limit=$EPOCHS
	[ "$mode" = baseline ] && limit=$BASELINE_EPOCHS
	: >"$OUT/$mode.server.out"
	/usr/bin/time -v -o "$OUT/$mode.server.time" "$OUT/mainnetbench" serve "${SHAPE[@]}" --addr "127.0.0.1:$PORT" \
		>"$OUT/$mode.server.out" 2>"$OUT/$mode.server.err" &
	time_pid=$!
	for _ in $(seq 1 600); do
		grep -q http "$OUT/$mode.server.out" 2>/dev/null && break
		sleep 0.1
	done
	server_pid=$(pgrep -P "$time_pid" || true)
	load0=$(cut -d' ' -f1-3 /proc/loadavg)
	echo "$(date -u +%T) $mode: scanning (epochs limit: $limit; server pid $server_pid; load $load0)" >&2
	env ${CLIENT_GOMEMLIMIT:+GOMEMLIMIT=$CLIENT_GOMEMLIMIT} /usr/bin/time -v -o "$OUT/$mode.client.time" "$OUT/mainnetbench" scan "${SHAPE[@]}" --url "http://127.0.0.1:$PORT" \
		--mode "$mode" --epochs "$limit" >"$OUT/$mode.client.out" 2> >(tee "$OUT/$mode.client.err" >&2)
	load1=$(cut -d' ' -f1-3 /proc/loadavg)
	kill "$server_pid"
	wait "$time_pid" || true
	server_pid=""
	line=$(cat "$OUT/$mode.client.out")
	echo "$line" >&2
	get() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	crss=$(field "$OUT/$mode.client.time" "Maximum resident set size")
	srss=$(field "$OUT/$mode.server.time" "Maximum resident set size")
	cwall=$(field "$OUT/$mode.client.time" "Elapsed (wall clock)")
	ccpu=$(awk -F': ' '/User time|System time/{s+=$2} END{printf "%.0f", s}' "$OUT/$mode.client.time")
	scpu=$(awk -F': ' '/User time|System time/{s+=$2} END{printf "%.0f", s}' "$OUT/$mode.server.time")
	ep=$(get epochs)
	wall=$(get wall_s)
	full=$((INTERVAL_EPOCHS + 1))
	extra=$(awk -v w="$wall" -v e="$ep" -v f="$full" 'BEGIN{printf "%.0f", w*f/e}')
	rows+=("$(printf '%-9s %7s %8s %9s %9s %8s %10s %10s %9s %9s %12s  %s -> %s' "$mode" "$ep" "$(get blocks)" "$cwall" \
		"$wall" "$(get epochs_per_s)" "$((crss / 1024))" "$((srss / 1024))" "$ccpu" "$scpu" "$extra" "$load0" "$load1")")
done
echo
echo "validators=$VALIDATORS protocol=$PROTOCOL interval_epochs=$INTERVAL_EPOCHS (block epochs $((INTERVAL_EPOCHS + 1))) cores=$(nproc) out=$OUT"
printf '%-9s %7s %8s %9s %9s %8s %10s %10s %9s %9s %12s  %s\n' mode epochs blocks wall scan_s epochs/s client_MiB server_MiB client_cpu server_cpu full_est_s "load before -> after"
for r in "${rows[@]}"; do echo "$r"; done
