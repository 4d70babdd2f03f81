#!/usr/bin/env bash
# bench/run.sh: calls at a fixed rate from a SIPp dialer through a proxy to a SIPp
# carrier, first through the gatekeeper, then through Kamailio, in one run.
#
# For each proxy it reports completed and failed calls (the dialer's SIPp
# statistics), the proxy's CPU time per completed call (utime+stime of all its
# processes from /proc/PID/stat, after minus before the load), its peak RSS
# (VmHWM from /proc/PID/status, summed over processes) and its peak PSS (sampled
# every second: Kamailio's processes share one memory segment, which a sum of
# RSS counts once per process). Everything runs on 127.0.0.1; every process is
# bounded by `timeout` and stopped on exit.
#
# The gatekeeper runs with audit.sync: batch (the default); gatekeeper-always is
# the same with audit.sync: always (each answer waits for its decision's fsync);
# gatekeeper-noaudit records no decision and no outcome (serve's hidden
# --unrecorded-for-benchmarks, for measuring the audit log's cost only);
# gatekeeper-base is the binary GK_BASE names (e.g. built from main before a
# change: `git worktree add /tmp/base main && (cd /tmp/base && go build -o
# /tmp/gk-base ./cmd/gatekeeper)`), run as the gatekeeper is, to compare a
# change with what it changes in one run.
# The p50 and p99 of the dialer's INVITE-to-200 times come from SIPp's
# per-call response times (-trace_rtt).
#
# Usage: bench/run.sh [-r RATE] [-t SECONDS] [-d HOLD_MS] [-p "gatekeeper kamailio"] [-s CSV] [-k]
#   -r  calls per second                      (RATE, default 1000)
#   -t  seconds of load                       (DURATION, default 30)
#   -d  ms between ACK and BYE                (HOLD_MS, default 100)
#   -p  proxies to run, in this order         (PROXIES, default "gatekeeper kamailio";
#       also gatekeeper-always, gatekeeper-noaudit, gatekeeper-base, and
#       kamailio-lean: bench/kamailio-lean.cfg)
#   -s  every SAMPLE_EVERY seconds (default 10) during the load, append a line
#       to CSV: proxy, seconds, RSS, goroutines, open files, completed and
#       failed calls so far, the machine's 1-minute load average (SAMPLES)
#   -k  keep the work directory               (KEEP=1)
# Other settings from the environment: GK_PORT=5060 KAM_PORT=5062 CARRIER_PORT=5070
# DIALER_PORT=5080 ADMIN_PORT=5090 CALLED=2025550143 KAM_WORKERS=2 GO=go GK_BASE=.
# The gatekeeper serves /metrics and /debug/pprof/ on 127.0.0.1:ADMIN_PORT during its load.
# Exit status: 0 when every proxy completed every call without failure.
set -euo pipefail

RATE=${RATE:-1000}
DURATION=${DURATION:-30}
# A BYE sent right behind its ACK can overtake it inside a concurrent proxy
# (legal on UDP), and the strict carrier scenario then fails the call; real
# calls never hang up within microseconds of the answer.
HOLD_MS=${HOLD_MS:-100}
PROXIES=${PROXIES:-gatekeeper kamailio}
KEEP=${KEEP:-0}
SAMPLES=${SAMPLES:-}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
GK_PORT=${GK_PORT:-5060}
KAM_PORT=${KAM_PORT:-5062}
CARRIER_PORT=${CARRIER_PORT:-5070}
DIALER_PORT=${DIALER_PORT:-5080}
ADMIN_PORT=${ADMIN_PORT:-5090}
CALLED=${CALLED:-2025550143}
KAM_WORKERS=${KAM_WORKERS:-2}
GK_BASE=${GK_BASE:-}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while getopts "r:t:d:p:s:kh" opt; do
	case $opt in
	r) RATE=$OPTARG ;;
	t) DURATION=$OPTARG ;;
	d) HOLD_MS=$OPTARG ;;
	p) PROXIES=$OPTARG ;;
	s) SAMPLES=$OPTARG ;;
	k) KEEP=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

[[ -z $SAMPLES ]] || SAMPLES=$(realpath -m "$SAMPLES")
BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$BENCH")
SCENARIOS=$REPO/test/sipp
CALLS=$((RATE * DURATION))
# Every SIPp and proxy process is killed by `timeout` after this many seconds.
BOUND=$((DURATION + HOLD_MS / 1000 + 90))
CLK_TCK=$(getconf CLK_TCK)
# Open calls the dialer allows: ten seconds of traffic beyond the hold time, so
# a stalling proxy shows up as failures, not as a quietly lowered rate.
CALL_LIMIT=$((RATE * (HOLD_MS / 1000 + 10)))

die() { echo "run.sh: $*" >&2; exit 2; }

for tool in sipp timeout ss; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y sip-tester coreutils iproute2)"
done
[[ -z $SAMPLES ]] || command -v curl >/dev/null || die "curl not found (apt-get install -y curl)"
for p in $PROXIES; do
	case $p in
	gatekeeper | gatekeeper-always | gatekeeper-noaudit) command -v "$GO" >/dev/null || die "go not found (set GO=/path/to/go)" ;;
	gatekeeper-base) [[ -x $GK_BASE ]] || die "gatekeeper-base needs GK_BASE=path to a gatekeeper binary" ;;
	kamailio | kamailio-lean) command -v kamailio >/dev/null || die "kamailio not found (apt-get install -y kamailio)" ;;
	*) die "unknown proxy '$p' (gatekeeper, gatekeeper-always, gatekeeper-noaudit, gatekeeper-base, kamailio, kamailio-lean)" ;;
	esac
done

WORK=$(mktemp -d /tmp/gatekeeper-bench.XXXXXX)
STARTED=() # pids of the timeout wrappers and samplers this script started and has not reaped
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

trap cleanup EXIT
trap 'exit 130' INT TERM

for port in "$CARRIER_PORT" "$DIALER_PORT"; do
	port_in_use "$port" && die "udp port $port is in use"
done

# hwm_kb PID...: VmHWM summed over the processes.
hwm_kb() {
	local pid
	for pid in "$@"; do
		awk '/^VmHWM:/ {print $2}' "/proc/$pid/status"
	done | awk '{s += $1} END {print s + 0}'
}

# sample_pss PID FILE: every second, write the highest PSS (kB) of the proxy's processes so far.
sample_pss() {
	local max=0 now pid
	while kill -0 "$1" 2>/dev/null; do
		now=$(for pid in $(proxy_pids "$1"); do
			awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null
		done | awk '{s += $1} END {print s + 0}')
		((now > max)) && max=$now
		echo "$max" >"$2"
		sleep 1
	done
}

# sample NAME PID DIR: every SAMPLE_EVERY seconds, append to $SAMPLES the proxy's
# RSS in MB (summed over its processes), goroutines (the gatekeeper's
# go_goroutines metric, empty for Kamailio), open files (entries of
# /proc/PID/fd, summed), the dialer's completed and failed calls so far and
# the machine's 1-minute load average.
sample() {
	local start=$SECONDS pid rss files goroutines
	[[ -s $SAMPLES ]] || echo "proxy,seconds,rss_mb,goroutines,open_files,completed,failed,load1" >"$SAMPLES"
	while kill -0 "$2" 2>/dev/null; do
		sleep "$SAMPLE_EVERY"
		rss=0 files=0 goroutines=""
		for pid in $(proxy_pids "$2"); do
			rss=$((rss + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
			files=$((files + $(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)))
		done
		if [[ $1 == gatekeeper* ]]; then
			goroutines=$(curl -s -m 5 "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '$1 == "go_goroutines" {print $2}')
		fi
		echo "$1,$((SECONDS - start)),$((rss / 1024)),$goroutines,$files,$(stat_of "$3/dialer.csv" "SuccessfulCall(C)"),$(stat_of "$3/dialer.csv" "FailedCall(C)"),$(cut -d' ' -f1 /proc/loadavg)" >>"$SAMPLES"
	done
}

# ms_of HH:MM:SS:USEC, as SIPp writes response times: milliseconds.
ms_of() { awk -F: 'NF == 4 {printf "%.1f", $1 * 3600000 + $2 * 60000 + $3 * 1000 + $4 / 1000; exit} {print "?"}' <<<"$1"; }

PROXY_PID=""

# start_gatekeeper DIR [SYNC [BINARY [FLAG...]]]: SYNC is audit.sync (default
# batch); BINARY a gatekeeper to run instead of one built from this tree;
# FLAGs go to its serve.
start_gatekeeper() {
	local dir=$1 sync=${2:-batch} gk=${3:-}
	shift $(($# < 3 ? $# : 3))
	if [[ -z $gk ]]; then
		gk=$WORK/bin/gatekeeper
		echo "building the gatekeeper"
		(cd "$REPO" && "$GO" build -o "$gk" ./cmd/gatekeeper) || die "go build failed"
	fi
	cp "$REPO/configs/policy.yaml" "$dir/policy.yaml"
	cat >"$dir/gatekeeper.yaml" <<-EOF
		sip:
		  listen: ["udp://127.0.0.1:$GK_PORT"]
		  carrier: "sip:127.0.0.1:$CARRIER_PORT"
		  drain_timeout: 5s
		  limits: {per_source: 0}   # one SIPp dialer sends the whole load
		dialers:
		  - name: bench
		    sources: ["127.0.0.0/8"]
		    automated: true
		admin: {http: "127.0.0.1:$ADMIN_PORT"}
		data_dir: $dir/data
		audit:
		  dir: $dir/audit
		  sync: $sync
		policy: policy.yaml
	EOF
	import_bench_data "$gk" "$dir" "$dir/data"
	timeout -k 5 "$BOUND" "$gk" serve --config "$dir/gatekeeper.yaml" --clock "$(date +%F)T12:00:00-05:00" "$@" \
		>"$dir/proxy.log" 2>&1 &
	STARTED+=("$!")
	local wrapper=$!
	wait_for has_child "$wrapper" || die "gatekeeper did not start: $(tail -3 "$dir/proxy.log")"
	PROXY_PID=$(child_of "$wrapper")
}

start_gatekeeper-always() { start_gatekeeper "$1" always; }

start_gatekeeper-noaudit() { start_gatekeeper "$1" batch "" --unrecorded-for-benchmarks; }

start_gatekeeper-base() { start_gatekeeper "$1" batch "$GK_BASE"; }

# start_kamailio DIR [CONFIG]: Kamailio with bench/CONFIG.cfg (kamailio.cfg by default).
start_kamailio() {
	local dir=$1
	mkdir -p "$dir/run"
	timeout -k 5 "$BOUND" kamailio -f "$BENCH/${2:-kamailio}.cfg" -DD -E -m 1024 -M 64 \
		-Y "$dir/run" -P "$dir/kamailio.pid" \
		-A "LISTEN=udp:127.0.0.1:$KAM_PORT" -A "CARRIER=\"sip:127.0.0.1:$CARRIER_PORT\"" \
		-A "WORKERS=$KAM_WORKERS" >"$dir/proxy.log" 2>&1 &
	STARTED+=("$!")
	wait_for test -s "$dir/kamailio.pid" || die "kamailio did not start: $(tail -3 "$dir/proxy.log")"
	PROXY_PID=$(cat "$dir/kamailio.pid")
}

start_kamailio-lean() { start_kamailio "$1" kamailio-lean; }

# run_one NAME PORT: load one proxy; appends a line to $WORK/results.
run_one() {
	local name=$1 port=$2 dir=$WORK/$1
	mkdir -p "$dir"
	port_in_use "$port" && die "udp port $port ($name) is in use"
	"start_$name" "$dir"
	local proxy_wrapper=${STARTED[-1]}
	wait_for port_in_use "$port" || die "$name does not listen on udp $port: $(tail -3 "$dir/proxy.log")"

	(cd "$dir" && exec timeout -k 5 "$BOUND" sipp -sf "$SCENARIOS/uas.xml" -i 127.0.0.1 -p "$CARRIER_PORT" \
		-nostdin -timeout "${BOUND}s" -trace_stat -stf carrier.csv -fd 5 \
		-trace_err -error_file carrier_errors.log >carrier.out 2>&1) &
	local carrier=$!
	STARTED+=("$carrier")
	wait_for port_in_use "$CARRIER_PORT" || die "the SIPp carrier does not listen on udp $CARRIER_PORT"

	# Kamailio forks its workers after binding the port: let it settle before counting them.
	sleep 1
	local pids before
	mapfile -t pids < <(proxy_pids "$PROXY_PID")
	before=$(cpu_ticks "${pids[@]}")
	sample_pss "$PROXY_PID" "$dir/pss_kb" &
	local sampler=$! recorder=""
	STARTED+=("$sampler")
	if [[ -n $SAMPLES ]]; then
		sample "$name" "$PROXY_PID" "$dir" &
		recorder=$!
		STARTED+=("$recorder")
	fi

	echo "$name: $CALLS calls at $RATE/s to udp 127.0.0.1:$port"
	(cd "$dir" && exec timeout -k 5 "$BOUND" sipp -sf "$SCENARIOS/uac.xml" -i 127.0.0.1 -p "$DIALER_PORT" \
		"127.0.0.1:$port" -s "$CALLED" -r "$RATE" -m "$CALLS" -d "$HOLD_MS" -l "$CALL_LIMIT" \
		-nostdin -timeout "${BOUND}s" -trace_stat -stf dialer.csv -fd 5 -trace_rtt -rtt_freq 1000 \
		-trace_err -error_file dialer_errors.log >dialer.out 2>&1) &
	local dialer=$! dialer_status=0
	STARTED+=("$dialer")
	# In the background so that a signal to this script is handled at once.
	wait "$dialer" || dialer_status=$?
	forget "$dialer"

	local after hwm pids_now load1
	after=$(cpu_ticks "${pids[@]}")
	load1=$(cut -d' ' -f1 /proc/loadavg)
	hwm=$(hwm_kb "${pids[@]}")
	mapfile -t pids_now < <(proxy_pids "$PROXY_PID")
	[[ ${pids_now[*]} == "${pids[*]}" ]] ||
		echo "$name: its processes changed during the load (${pids[*]} -> ${pids_now[*]}): CPU and RSS cover the first set"
	stop "$sampler" "$sampler"
	[[ -z $recorder ]] || stop "$recorder" "$recorder"
	# Let the carrier finish its last calls (4 s of timewait absorb retransmitted BYEs).
	sleep 5
	stop "$carrier" "$carrier"
	stop "$PROXY_PID" "$proxy_wrapper"
	if [[ $name == gatekeeper* ]]; then
		# Plain and compressed files both (a finished file is gzipped in the background).
		echo "$name: $({ cat "$dir"/audit/*.jsonl; zcat "$dir"/audit/*.jsonl.gz; } 2>/dev/null | grep -c '"kind":"decision"') decisions in the audit log"
	fi

	local completed failed
	completed=$(stat_of "$dir/dialer.csv" "SuccessfulCall(C)")
	failed=$(stat_of "$dir/dialer.csv" "FailedCall(C)")
	# Empty when the sampler was stopped while it wrote.
	local pss_kb
	pss_kb=$(cat "$dir/pss_kb" 2>/dev/null || true)
	[[ $pss_kb =~ ^[0-9]+$ ]] || pss_kb=0
	local cpu_us per_call="?"
	cpu_us=$(((after - before) * 1000000 / CLK_TCK))
	if [[ $completed =~ ^[0-9]+$ ]] && ((completed > 0)); then
		per_call=$((cpu_us / completed))
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$name" "$CALLS" "$completed" "$failed" \
		"$(stat_of "$dir/dialer.csv" "Retransmissions(C)")" \
		"$(stat_of "$dir/carrier.csv" "FailedCall(C)")" \
		"$(awk -v us="$cpu_us" 'BEGIN {printf "%.2f", us / 1e6}')" "$per_call" \
		"$((hwm / 1024))" "$((pss_kb / 1024))" \
		"$(ms_of "$(stat_of "$dir/dialer.csv" "ResponseTime1(C)")")" "$(rtt_percentile "$dir" 50)" "$(rtt_percentile "$dir" 99)" \
		"$dialer_status" "$load1" >>"$WORK/results"
}

# rtt_percentile DIR P: the P-th percentile (ms) of the dialer's INVITE-to-200
# times, from SIPp's rtt file (Date_ms;response_time_ms;rtd_no).
rtt_percentile() {
	cat "$1"/*_rtt.csv 2>/dev/null | awk -F';' '$3 == 1 {print $2}' | sort -n |
		awk -v p="$2" '{v[NR] = $1} END {if (NR) {i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; printf "%.1f", v[i]} else print "?"}'
}

echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
	"$(awk '/^MemTotal/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo), $(uname -r)"
echo "sipp $(sipp -v 2>&1 | awk '/SIPp v/ {sub(/\.$/, "", $2); print $2; exit}'); rate $RATE/s for ${DURATION}s, hold ${HOLD_MS} ms"
for p in $PROXIES; do
	case $p in
	gatekeeper | gatekeeper-*) run_one "$p" "$GK_PORT" ;;
	kamailio | kamailio-lean) run_one "$p" "$KAM_PORT" ;;
	esac
done

echo
{
	printf 'proxy\tcalls\tcompleted\tfailed\tretrans\tcarrier_failed\tcpu_s\tcpu_us/call\tpeak_rss_MB\tpeak_pss_MB\tinvite_to_200_ms\tp50_ms\tp99_ms\tsipp_exit\tload1\n'
	cat "$WORK/results"
} | awk -F'\t' '# align columns: first left, the others right
	{for (i = 1; i <= NF; i++) {cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i)}; n = NF}
	END {for (r = 1; r <= NR; r++) {for (i = 1; i <= n; i++)
		printf (i == 1 ? "%-" w[i] "s" : "  %" w[i] "s"), cell[r, i]; print ""}}'
echo "cpu: utime+stime of the proxy's processes during the load; rss: VmHWM summed over its processes;"
echo "pss: highest sampled sum of Pss; invite_to_200_ms (mean), p50_ms and p99_ms include the carrier's 20 ms between 180 and 200;"
echo "load1: the machine's 1-minute load average as the load ended (this run's SIPp and proxy count about 2)."

awk -F'\t' '$3 != $2 || $4 != 0 || $14 != 0 {bad = 1} END {exit bad}' "$WORK/results"
