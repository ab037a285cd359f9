#!/usr/bin/env bash
# Mainnet-scale treegen scan benchmark (issue 6): a simulated beacon node and the scanning client as two
# processes on loopback, each under /usr/bin/time -v; prints wall time, peak RSS and rates per mode.
#
#   deploy/bench/mainnet.sh                          # optimized full interval (6,300 epochs) + baseline 64 epochs
#   EPOCHS=100 BASELINE_EPOCHS=32 deploy/bench/mainnet.sh
#   MODES=optimized STORE=/work/tmp/blockstore KEEP_STORE=1 deploy/bench/mainnet.sh
#
# First a prepare step (not timed as part of either mode; reported on its own) generates the simulated chain's
# blocks once into a block store under STORE, and the node serves blocks, blinded blocks and headers from it, as
# a real node serves them from its database; both modes run against the same prepared node. The store (~1.6 GB
# for the full interval, zstd) is deleted at the end unless KEEP_STORE=1; a kept store that fits the shape is
# reused (sampled blocks are regenerated and compared first).
#
# Variables: VALIDATORS (1100000), PROTOCOL (45000), INTERVAL_EPOCHS (6300), EPOCHS (0 = whole interval, optimized),
# BASELINE_EPOCHS (64; baseline is extrapolated linearly to the interval), MODES ("optimized baseline"),
# PORT (15099), OUT (a temp dir), STORE (block store directory; default $OUT/store), KEEP_STORE (0),
# PREPARE_WORKERS (nproc), NO_STORE (0; 1 = generate every block on request, the earlier node),
# CLIENT_GOMEMLIMIT (empty = the client's default soft memory limit, 1700MiB as treegen; e.g. off, 4GiB).
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
STORE=${STORE:-$OUT/store}
KEEP_STORE=${KEEP_STORE:-0}
NO_STORE=${NO_STORE:-0}
PREPARE_WORKERS=${PREPARE_WORKERS:-$(nproc)}
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
cpu() { # cpu <time -v file>: user + system seconds
	awk -F': ' '/User time|System time/{s+=$2} END{printf "%.0f", s}' "$1"
}

server_pid=""
cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill "$server_pid" 2>/dev/null || true
	fi
	if [ "$NO_STORE" != 1 ] && [ "$KEEP_STORE" != 1 ] && [ -d "$STORE" ]; then
		rm -rf "$STORE"
	fi
}
trap cleanup EXIT

# The store covers what the longest scan reads (the whole interval unless EPOCHS limits the optimized mode).
store_epochs=$EPOCHS
case " $MODES " in *" optimized "*) ;; *) store_epochs=$BASELINE_EPOCHS ;; esac
[ "$EPOCHS" != 0 ] && [ "$BASELINE_EPOCHS" -gt "$EPOCHS" ] && store_epochs=$BASELINE_EPOCHS
prepare_line="prepare: none (blocks generated on request)"
store_args=()
if [ "$NO_STORE" != 1 ]; then
	echo "$(date -u +%T) prepare: block store in $STORE (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
	/usr/bin/time -v -o "$OUT/prepare.time" "$OUT/mainnetbench" prepare "${SHAPE[@]}" --store "$STORE" --reuse \
		--epochs "$store_epochs" --workers "$PREPARE_WORKERS" >"$OUT/prepare.out" 2> >(tee "$OUT/prepare.err" >&2)
	prepare_line="prepare: $(cat "$OUT/prepare.out") wall=$(field "$OUT/prepare.time" "Elapsed (wall clock)") cpu_s=$(cpu "$OUT/prepare.time") peak_rss_MiB=$(($(field "$OUT/prepare.time" "Maximum resident set size") / 1024)) disk=$(du -sh "$STORE" | cut -f1)"
	echo "$prepare_line" >&2
	store_args=(--store "$STORE")
fi

rows=()
for mode in $MODES; do
	limit=$EPOCHS
	[ "$mode" = baseline ] && limit=$BASELINE_EPOCHS
	: >"$OUT/$mode.server.out"
	/usr/bin/time -v -o "$OUT/$mode.server.time" "$OUT/mainnetbench" serve "${SHAPE[@]}" "${store_args[@]}" --addr "127.0.0.1:$PORT" \
		>"$OUT/$mode.server.out" 2>"$OUT/$mode.server.err" &
	time_pid=$!
	for _ in $(seq 1 600); do
		grep -q http "$OUT/$mode.server.out" 2>/dev/null && break
		kill -0 "$time_pid" 2>/dev/null || { cat "$OUT/$mode.server.err" >&2; exit 1; }
		sleep 0.1
	done
	server_pid=$(pgrep -P "$time_pid" || true)
	load0=$(cut -d' ' -f1-3 /proc/loadavg)
	echo "$(date -u +%T) $mode: scanning (epochs limit: $limit; server pid $server_pid; load $load0)" >&2
	memlimit=()
	case "${CLIENT_GOMEMLIMIT:-}" in
	"") ;;
	*) memlimit=(GOMEMLIMIT="$CLIENT_GOMEMLIMIT") ;;
	esac
	env "${memlimit[@]}" /usr/bin/time -v -o "$OUT/$mode.client.time" "$OUT/mainnetbench" scan "${SHAPE[@]}" --url "http://127.0.0.1:$PORT" \
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
	ep=$(get epochs)
	wall=$(get wall_s)
	full=$((INTERVAL_EPOCHS + 1))
	extra=$(awk -v w="$wall" -v e="$ep" -v f="$full" 'BEGIN{printf "%.0f", w*f/e}')
	rows+=("$(printf '%-9s %7s %8s %9s %9s %8s %10s %10s %9s %9s %12s  %s -> %s' "$mode" "$ep" "$(get blocks)" "$cwall" \
		"$wall" "$(get epochs_per_s)" "$((crss / 1024))" "$((srss / 1024))" "$(cpu "$OUT/$mode.client.time")" \
		"$(cpu "$OUT/$mode.server.time")" "$extra" "$load0" "$load1")")
	echo "digest $mode $(get digest)" >>"$OUT/digests"
done
echo
echo "validators=$VALIDATORS protocol=$PROTOCOL interval_epochs=$INTERVAL_EPOCHS (block epochs $((INTERVAL_EPOCHS + 1))) cores=$(nproc) out=$OUT"
echo "$prepare_line"
printf '%-9s %7s %8s %9s %9s %8s %10s %10s %9s %9s %12s  %s\n' mode epochs blocks wall scan_s epochs/s client_MiB server_MiB client_cpu server_cpu full_est_s "load before -> after"
for r in "${rows[@]}"; do echo "$r"; done
cat "$OUT/digests"
