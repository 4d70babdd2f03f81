# bench/lib.sh: what bench/run.sh and bench/cluster.sh share. Sourced after the caller
# sets WORK (its work directory), KEEP (1: keep it) and STARTED=() (the pids of the
# `timeout` wrappers and samplers it started and has not reaped).

cleanup() {
	local pid
	for pid in "${STARTED[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	sleep 1
	for pid in "${STARTED[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [[ $KEEP == 1 ]]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}

port_in_use() { [[ -n $(ss -Hluna "sport = :$1") ]]; }

# wait_for COMMAND...: retry for up to 10 s (WAIT_TRIES tenths of a second).
wait_for() {
	for _ in $(seq "${WAIT_TRIES:-100}"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# forget PID: a reaped process; its pid may be reused, so cleanup must not signal it.
forget() {
	local kept=() pid
	for pid in "${STARTED[@]}"; do
		[[ $pid == "$1" ]] || kept+=("$pid")
	done
	STARTED=("${kept[@]}")
}

# child_of PID: the process a `timeout` wrapper started.
child_of() { ps -o pid= --ppid "$1" | head -1 | tr -d ' '; }

# has_child PID: the `timeout` wrapper PID has started its process (asked anew each time).
has_child() { [[ -n $(child_of "$1") ]]; }

# proxy_pids PID: the proxy's main process and its direct children (Kamailio's workers), one a line.
proxy_pids() { echo "$1"; ps -o pid= --ppid "$1" | tr -d ' '; }

# cpu_ticks PID...: utime+stime in clock ticks, summed. Fields 14 and 15 of
# /proc/PID/stat; the command name (field 2) may hold spaces, so count after ')'.
cpu_ticks() {
	local pid total=0 fields
	for pid in "$@"; do
		fields=$(sed 's/^.*) //' "/proc/$pid/stat")
		total=$((total + $(echo "$fields" | awk '{print $12 + $13}')))
	done
	echo "$total"
}

# stat_of CSV COLUMN: a column of the last line of a SIPp statistics file.
stat_of() {
	awk -F';' -v col="$2" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == col) c = i}
		END {print (c && $c != "") ? $c : "?"}' "$1" 2>/dev/null || echo "?"
}

gone() { ! kill -0 "$1" 2>/dev/null; }

# stop PID WRAPPER: SIGTERM (SIGKILL after 10 s), then reap the wrapper.
stop() {
	kill -TERM "$1" 2>/dev/null || true
	if [[ $1 != "$2" ]] && ! wait_for gone "$1"; then
		kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$2" 2>/dev/null || true
	forget "$2"
}


# import_bench_data GATEKEEPER DIR DATA_DIR [BLOCK...]: the registry a benchmarked gatekeeper
# decides from, written into DATA_DIR before it serves (files in DIR). One listed number on
# each list, as in Kamailio's htable: the lookups run against real data. The national list
# is dated today, so that the shipped policy's 31-day freshness rule passes; the caller runs
# serve with --clock at noon Eastern time, so that every rule of the shipped policy runs and
# allows the call whatever the hour of the run. The called numbers' thousands blocks
# (202-555-0XXX, and each BLOCK, "NPA,NXX,X,STATE") are landlines, so the automated calls
# need no consent record (the shipped policy treats unknown lines as mobile).
import_bench_data() {
	local gk=$1 dir=$2 data=$3 list block
	shift 3
	echo 2025550199 >"$dir/internal.txt"
	echo 2025550177 >"$dir/ftc.txt"
	for list in internal ftc; do
		"$gk" import --data-dir "$data" --list "$list" --source-date "$(date +%F)" "$dir/$list.txt" \
			>>"$dir/import.log" 2>&1 || die "gatekeeper import failed: $(tail -3 "$dir/import.log")"
	done
	{
		printf 'npa,nxx,x,type,state\n202,555,0,landline,DC\n'
		for block in "$@"; do
			IFS=, read -r npa nxx x state <<<"$block"
			printf '%s,%s,%s,landline,%s\n' "$npa" "$nxx" "$x" "$state"
		done
	} >"$dir/blocks.csv"
	"$gk" import --data-dir "$data" --kind blocks "$dir/blocks.csv" \
		>>"$dir/import.log" 2>&1 || die "gatekeeper import failed: $(tail -3 "$dir/import.log")"
}
