#!/usr/bin/env bash
# bench/cluster.sh: the CPU a call costs a gatekeeper alone and each of three gatekeepers in a
# cluster (issue 14: within 10 % of a single node's), in one run:
#   single      one gatekeeper without a cluster section, RATE calls/s from one SIPp dialer;
#   direct      three gatekeepers sharing three NATS servers (JetStream, R3, sync always), each
#               sent RATE calls/s by its own dialer: a node's own cost, no dispatcher;
#   dispatcher  the same cluster behind Kamailio (configs/kamailio-dispatcher.cfg, hashing the
#               called number), one dialer sending 3 x RATE calls/s to it.
# Every call goes to another number of a Florida landline block: the shipped policy's state
# frequency cap (3 in 24 h) holds for each, so every call is a cap reservation, in the
# cluster a JetStream publish (the most a call asks of the cluster). With -u the numbers are
# in Washington, DC, which has no cap: a call then asks nothing of the cluster. CPU is utime+stime from /proc/PID/stat during the
# load, per completed call of that node (its decisions in its audit log for the
# dispatcher's calls); the NATS servers' and Kamailio's own CPU are given beside. Everything
# runs on loopback (gatekeepers on 127.0.0.11-13, NATS servers on 127.0.0.21-23); every
# process is bounded by `timeout` and stopped on exit.
#
# Usage: bench/cluster.sh [-r RATE] [-t SECONDS] [-d HOLD_MS] [-u] [-k]
#   -r  calls per second per node       (RATE, default 100)
#   -t  seconds of load per mode        (DURATION, default 20)
#   -d  ms between ACK and BYE          (HOLD_MS, default 100)
#   -u  numbers without a cap (DC)      (UNCAPPED=1)
#   -k  keep the work directory         (KEEP=1)
# Other settings from the environment: GK_PORT=5060 KAM_PORT=5062 CARRIER_PORT=5070
# DIALER_PORT=5080 GO=go.
# Exit status: 0 when every mode completed every call without failure.
set -euo pipefail

RATE=${RATE:-100}
DURATION=${DURATION:-20}
HOLD_MS=${HOLD_MS:-100}
KEEP=${KEEP:-0}
UNCAPPED=${UNCAPPED:-0}
GK_PORT=${GK_PORT:-5060}
KAM_PORT=${KAM_PORT:-5062}
CARRIER_PORT=${CARRIER_PORT:-5070}
DIALER_PORT=${DIALER_PORT:-5080}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while getopts "r:t:d:ukh" opt; do
	case $opt in
	r) RATE=$OPTARG ;;
	t) DURATION=$OPTARG ;;
	d) HOLD_MS=$OPTARG ;;
	u) UNCAPPED=1 ;;
	k) KEEP=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$BENCH")
SCENARIOS=$REPO/test/sipp
CALLS=$((RATE * DURATION))
# Every process is killed by `timeout` after this many seconds: three modes and their setup.
BOUND=$((3 * (DURATION + HOLD_MS / 1000 + 60)))
CLK_TCK=$(getconf CLK_TCK)
NODES=(127.0.0.11 127.0.0.12 127.0.0.13)
NATS=(127.0.0.21 127.0.0.22 127.0.0.23)

die() { echo "cluster.sh: $*" >&2; exit 2; }

for tool in sipp kamailio timeout ss "$GO"; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y sip-tester kamailio coreutils iproute2; GO=/path/to/go)"
done

WORK=$(mktemp -d /tmp/gatekeeper-cluster-bench.XXXXXX)
STARTED=() # pids of the timeout wrappers this script started and has not reaped
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

for port in "$CARRIER_PORT" "$DIALER_PORT" "$KAM_PORT" "$GK_PORT"; do
	port_in_use "$port" && die "udp port $port is in use"
done

echo "building the gatekeeper and nats-server $(cd "$REPO" && "$GO" list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2)"
(cd "$REPO" && "$GO" build -o "$WORK/bin/gatekeeper" ./cmd/gatekeeper &&
	"$GO" build -o "$WORK/bin/nats-server" github.com/nats-io/nats-server/v2) || die "go build failed"
GK=$WORK/bin/gatekeeper

# The called numbers: NPA-555-XXXX and NPA-556-XXXX in STATE, every thousands block a landline.
NPA=305 STATE=FL
((UNCAPPED == 0)) || NPA=202 STATE=DC
BLOCKS=()
for nxx in 555 556; do
	for x in 0 1 2 3 4 5 6 7 8 9; do
		BLOCKS+=("$NPA,$nxx,$x,$STATE")
	done
done

# numbers NXX FROM COUNT FILE: an injection file of COUNT numbers NPA-NXX-XXXX from FROM on.
numbers() {
	{
		echo SEQUENTIAL
		seq -f "$NPA$1%04g" "$2" $(($2 + $3 - 1))
	} >"$4"
}
((CALLS <= 3333)) || die "RATE x DURATION is $CALLS: at most 3333 (10,000 numbers for the three nodes)"

# start_gatekeeper NAME IP [CLUSTER_SECTION]: a gatekeeper serving SIP on IP:GK_PORT; sets
# GK_PID and GK_WRAPPER (its `timeout`).
start_gatekeeper() {
	local dir=$WORK/$1
	mkdir -p "$dir"
	cp "$REPO/configs/policy.yaml" "$dir/policy.yaml"
	cat >"$dir/gatekeeper.yaml" <<-EOF
		sip:
		  listen: ["udp://$2:$GK_PORT"]
		  carrier: "sip:127.0.0.1:$CARRIER_PORT"
		  drain_timeout: 5s
		  limits: {per_source: 0}   # one dialer, or the dispatcher, sends the whole load
		dialers:
		  - name: bench
		    sources: ["127.0.0.0/8"]
		    automated: true
		data_dir: $dir/data
		audit:
		  dir: $dir/audit
		policy: policy.yaml
		${3:-}
	EOF
	import_bench_data "$GK" "$dir" "$dir/data" "${BLOCKS[@]}"
	timeout -k 5 "$BOUND" "$GK" serve --config "$dir/gatekeeper.yaml" --clock "$(date +%F)T12:00:00-05:00" \
		>"$dir/proxy.log" 2>&1 &
	STARTED+=("$!")
	GK_WRAPPER=$!
	wait_for has_child "$GK_WRAPPER" || die "$1 did not start: $(tail -3 "$dir/proxy.log")"
	GK_PID=$(child_of "$GK_WRAPPER")
}

# serving NAME: the gatekeeper's log says it serves (a cluster node first catches up).
serving() { grep -q "gatekeeper is serving" "$WORK/$1/proxy.log"; }

# decisions NAME: the decisions in the gatekeeper's audit log so far.
decisions() { cat "$WORK/$1"/audit/*.jsonl 2>/dev/null | grep -c '"kind":"decision"' || true; }

# dial NAME TARGET RATE CALLS NUMBERS: a SIPp dialer from 127.0.0.1:DIALER_PORT+n, in the
# background; its pid is appended to DIALERS.
DIALERS=()
dial() {
	local dir=$WORK/$1
	mkdir -p "$dir"
	(cd "$dir" && exec timeout -k 5 "$BOUND" sipp -sf "$SCENARIOS/uac_numbers.xml" -inf "$5" \
		-i 127.0.0.1 -p $((DIALER_PORT + ${#DIALERS[@]})) "$2" -r "$3" -m "$4" -d "$HOLD_MS" \
		-nostdin -timeout "${BOUND}s" -trace_stat -stf dialer.csv -fd 5 >dialer.out 2>&1) &
	STARTED+=("$!")
	DIALERS+=("$!")
}

# wait_dialers: wait for every dialer of DIALERS to end.
wait_dialers() {
	local pid
	for pid in "${DIALERS[@]}"; do
		wait "$pid" || true
		forget "$pid"
	done
	DIALERS=()
}

# row MODE WHAT CALLS COMPLETED FAILED TICKS [SINGLE_US]: a line of the results.
row() {
	local us="?" vs=""
	if [[ $4 =~ ^[0-9]+$ ]] && (($4 > 0)); then
		us=$(($6 * 1000000 / CLK_TCK / $4))
		[[ -z ${7:-} ]] || vs=$(awk -v a="$us" -v b="$7" 'BEGIN {printf "%+.0f %%", (a - b) * 100 / b}')
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" \
		"$(awk -v t="$6" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}')" "$us" "$vs" >>"$WORK/results"
}

echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sipp $(sipp -v 2>&1 | awk '/SIPp v/ {sub(/\.$/, "", $2); print $2; exit}'), $(kamailio -v | head -1); $RATE calls/s per node for ${DURATION}s, hold ${HOLD_MS} ms, called numbers in $STATE"

(cd "$WORK" && exec timeout -k 5 "$BOUND" sipp -sf "$SCENARIOS/uas.xml" -i 127.0.0.1 -p "$CARRIER_PORT" \
	-nostdin -timeout "${BOUND}s" -trace_stat -stf carrier.csv -fd 5 >carrier.out 2>&1) &
STARTED+=("$!")
wait_for port_in_use "$CARRIER_PORT" || die "the SIPp carrier does not listen on udp $CARRIER_PORT"

# single: one gatekeeper alone.
echo "single: $CALLS calls at $RATE/s to one gatekeeper"
start_gatekeeper single 127.0.0.10
wait_for serving single || die "single did not serve: $(tail -3 "$WORK/single/proxy.log")"
numbers 555 0 "$CALLS" "$WORK/single.csv"
before=$(cpu_ticks "$GK_PID")
dial single-dialer "127.0.0.10:$GK_PORT" "$RATE" "$CALLS" "$WORK/single.csv"
wait_dialers
ticks=$(($(cpu_ticks "$GK_PID") - before))
completed=$(stat_of "$WORK/single-dialer/dialer.csv" "SuccessfulCall(C)")
row single gatekeeper "$CALLS" "$completed" "$(stat_of "$WORK/single-dialer/dialer.csv" "FailedCall(C)")" "$ticks"
SINGLE_US=$((ticks * 1000000 / CLK_TCK / completed))
stop "$GK_PID" "$GK_WRAPPER"

# The cluster: three NATS servers, three gatekeepers.
routes=""
for ip in "${NATS[@]}"; do routes+="nats://$ip:6222, "; done
NATS_PIDS=()
for i in 0 1 2; do
	dir=$WORK/nats-$i
	mkdir -p "$dir"
	cat >"$dir/nats.conf" <<-EOF
		server_name: nats-$i
		listen: ${NATS[$i]}:4222
		jetstream { store_dir: "$dir/store", sync_interval: always }
		cluster { name: gatekeeper, listen: ${NATS[$i]}:6222, routes: [${routes%, }] }
	EOF
	timeout -k 5 "$BOUND" "$WORK/bin/nats-server" -c "$dir/nats.conf" >"$dir/nats.log" 2>&1 &
	STARTED+=("$!")
	wait_for has_child "$!" || die "nats-server $i did not start"
	NATS_PIDS+=("$(child_of "$!")")
done
nats_urls=$(printf '"nats://%s:4222", ' "${NATS[@]}")
GK_PIDS=()
for i in 0 1 2; do
	start_gatekeeper "gk-$i" "${NODES[$i]}" "cluster: {node: gk-$i, nats: [${nats_urls%, }], replicas: 3}"
	GK_PIDS+=("$GK_PID")
done
for i in 0 1 2; do
	wait_for serving "gk-$i" || wait_for serving "gk-$i" || wait_for serving "gk-$i" ||
		die "gk-$i did not serve: $(tail -3 "$WORK/gk-$i/proxy.log")"
done

# measure MODE SECOND_CALLS: runs the dialers started by the caller and writes each
# node's row, the NATS servers' and (with KAM_PID set) Kamailio's.
measure() {
	local mode=$1 i b n total=0 before_n=() before_t=() nats_before kam_before=0
	for i in 0 1 2; do
		before_n+=("$(decisions "gk-$i")")
		before_t+=("$(cpu_ticks "${GK_PIDS[$i]}")")
	done
	nats_before=$(cpu_ticks "${NATS_PIDS[@]}")
	[[ -z ${KAM_PID:-} ]] || kam_before=$(cpu_ticks $(proxy_pids "$KAM_PID"))
	"start_$mode"
	wait_dialers
	for i in 0 1 2; do
		gone "${GK_PIDS[$i]}" && die "gk-$i ended during the load: $(tail -3 "$WORK/gk-$i/proxy.log")"
		gone "${NATS_PIDS[$i]}" && die "nats-server $i ended during the load: $(tail -3 "$WORK/nats-$i/nats.log")"
	done
	sleep 1 # the last decisions are flushed to the audit logs
	local failed=0 f
	for f in "$WORK/$mode"-*/dialer.csv; do
		failed=$((failed + $(stat_of "$f" "FailedCall(C)")))
	done
	for i in 0 1 2; do
		n=$(($(decisions "gk-$i") - before_n[i]))
		total=$((total + n))
		row "$mode" "gk-$i" "$n" "$n" "" "$(($(cpu_ticks "${GK_PIDS[$i]}") - before_t[i]))" "$SINGLE_US"
	done
	row "$mode" "3 NATS servers" "$total" "$total" "$failed" "$(($(cpu_ticks "${NATS_PIDS[@]}") - nats_before))"
	[[ -z ${KAM_PID:-} ]] || row "$mode" kamailio "$total" "$total" "$failed" "$(($(cpu_ticks $(proxy_pids "$KAM_PID")) - kam_before))"
}

# direct: each node's own dialer, a third of NPA-555's numbers each.
start_direct() {
	local i
	for i in 0 1 2; do
		numbers 555 $((i * 3333)) "$CALLS" "$WORK/direct-$i.csv"
		dial "direct-$i" "${NODES[$i]}:$GK_PORT" "$RATE" "$CALLS" "$WORK/direct-$i.csv"
	done
}
echo "direct: $CALLS calls at $RATE/s to each of 3 clustered gatekeepers"
measure direct

# dispatcher: Kamailio in front, one dialer, NPA-556's numbers.
mkdir -p "$WORK/kamailio"
for i in 0 1 2; do echo "1 sip:${NODES[$i]}:$GK_PORT 8 0 name=gk-$i"; done >"$WORK/kamailio/dispatcher.list"
timeout -k 5 "$BOUND" kamailio -f "$REPO/configs/kamailio-dispatcher.cfg" -DD -E -m 1024 -M 64 \
	-Y "$WORK/kamailio" -P "$WORK/kamailio/kamailio.pid" \
	-A "LISTEN=udp:127.0.0.1:$KAM_PORT" -A 'DIALERS="127.0.0.0/8"' -A "WORKERS=2" \
	-A "DS_LIST=\"$WORK/kamailio/dispatcher.list\"" -A "CTL=\"unix:$WORK/kamailio/ctl\"" \
	>"$WORK/kamailio/kamailio.log" 2>&1 &
STARTED+=("$!")
wait_for test -s "$WORK/kamailio/kamailio.pid" || die "kamailio did not start: $(tail -3 "$WORK/kamailio/kamailio.log")"
KAM_PID=$(cat "$WORK/kamailio/kamailio.pid")
sleep 2 # its first probes find the gatekeepers up
start_dispatcher() {
	numbers 556 0 $((3 * CALLS)) "$WORK/dispatcher.csv"
	dial dispatcher-0 "127.0.0.1:$KAM_PORT" $((3 * RATE)) $((3 * CALLS)) "$WORK/dispatcher.csv"
}
echo "dispatcher: $((3 * CALLS)) calls at $((3 * RATE))/s through Kamailio to the 3 gatekeepers"
measure dispatcher

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
{
	printf 'mode\tprocess\tcalls\tcompleted\tfailed\tcpu_s\tcpu_us/call\tvs single\n'
	cat "$WORK/results"
} | awk -F'\t' '# align columns: first two left, the others right
	{for (i = 1; i <= NF; i++) {cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i)}; if (NF > n) n = NF}
	END {for (r = 1; r <= NR; r++) {for (i = 1; i <= n; i++)
		printf (i <= 2 ? "%-" w[i] "s  " : "  %" w[i] "s"), cell[r, i]; print ""}}'
echo "cpu: utime+stime during the load; a node's calls are its decisions (direct: its own dialer's,"
echo "dispatcher: those the hash sent it); NATS and Kamailio per call of the whole cluster."

awk -F'\t' '$5 != "" && $5 != 0 {bad = 1} $2 ~ /^gk|gatekeeper/ && $4 == 0 {bad = 1} END {exit bad}' "$WORK/results"
