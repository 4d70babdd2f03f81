#!/usr/bin/env bash
# bench/callgrind.sh BINARY OUT [RATE] [SECONDS]: the instructions a gatekeeper
# binary executes for RATE*SECONDS calls (default 30/s for 30 s), counted by
# valgrind's callgrind: a figure the machine's other load does not move, where
# CPU time per call does (bench/run.sh). It runs bench/run.sh with the binary
# as gatekeeper-base, its serve under callgrind (GODEBUG=asyncpreemptoff=1), and
# dumps the counters when run.sh stops the server (before its drain), into OUT.1.
# Compare two binaries with the same RATE and SECONDS: the totals include the
# start-up, the same for both. Valgrind runs the server ~50x slower: keep
# RATE low enough that no call fails (a failed call's retransmissions count).
# Needs valgrind (callgrind_control, callgrind_annotate); bench/run.sh's ports
# and settings apply.
set -euo pipefail

if [[ ${CALLGRIND_WRAP:-} == 1 ]]; then
	# As bench/run.sh's GK_BASE: serve under callgrind, everything else as it is.
	if [[ $1 == serve ]]; then
		GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$CG_OUT" "$GK_BIN" "$@" &
		vg=$!
		trap 'callgrind_control -d "$vg" >/dev/null 2>&1; kill -TERM "$vg"; wait "$vg"; exit 0' TERM
		wait "$vg"
		exit
	fi
	exec "$GK_BIN" "$@"
fi

[[ $# -ge 2 ]] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
for tool in valgrind callgrind_control callgrind_annotate; do
	command -v "$tool" >/dev/null || { echo "callgrind.sh: $tool not found (apt-get install -y valgrind)" >&2; exit 2; }
done
# Under valgrind on a busy machine the server takes more than run.sh's 10 s
# to listen: wait up to a minute.
GK_BIN=$(realpath "$1") CG_OUT=$(realpath -m "$2") CALLGRIND_WRAP=1 GK_BASE=$(realpath "$0") WAIT_TRIES=600 \
	"$(dirname "$0")/run.sh" -r "${3:-30}" -t "${4:-30}" -p gatekeeper-base || true
callgrind_annotate "$(realpath -m "$2").1" | awk '/PROGRAM TOTALS/ {print "instructions:", $1}'
