#!/usr/bin/env bash
# bench/soak.sh: the gatekeeper under a steady load for a long time (bench/run.sh
# with sampling), then a plot of what was sampled.
#
# Every SAMPLE_EVERY seconds (10) it records the gatekeeper's RSS, goroutines,
# open files, the dialer's completed and failed calls and the machine's load
# average into OUT.csv, and plots them into OUT.png (gnuplot). After the
# warm-up (the first WARMUP seconds, 120) every resource should stay within
# 10 % of its median and no call should fail: the script says whether they did
# and exits 1 when not.
#
# Usage: bench/soak.sh [-r RATE] [-m MINUTES] [-o OUT]
#   -r  calls per second      (RATE, default 1000)
#   -m  minutes of load       (MINUTES, default 30)
#   -o  output path, no extension (OUT, default soak)
# Ports and other settings as for bench/run.sh (GK_PORT, ADMIN_PORT, ...).
set -euo pipefail

RATE=${RATE:-1000}
MINUTES=${MINUTES:-30}
OUT=${OUT:-soak}
WARMUP=${WARMUP:-120}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while getopts "r:m:o:h" opt; do
	case $opt in
	r) RATE=$OPTARG ;;
	m) MINUTES=$OPTARG ;;
	o) OUT=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
command -v gnuplot >/dev/null || { echo "soak.sh: gnuplot not found (apt-get install -y gnuplot-nox)" >&2; exit 2; }

BENCH=$(cd "$(dirname "$0")" && pwd)
rm -f "$OUT.csv"
status=0
"$BENCH/run.sh" -p gatekeeper -r "$RATE" -t "$((MINUTES * 60))" -s "$OUT.csv" || status=$?

# Steady: after the warm-up, each of RSS, goroutines and open files within
# 10 % of its median, and the failed calls no more than at the warm-up's end.
awk -F, -v warmup="$WARMUP" '
	NR > 1 && $2 > warmup {n++; for (c = 3; c <= 5; c++) v[c, n] = $c; if (!f0) f0 = $7 + 1; f = $7}
	function median(c,   i, j, t, a) {
		for (i = 1; i <= n; i++) a[i] = v[c, i]
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) {t = a[j]; a[j] = a[j - 1]; a[j - 1] = t}
		return a[int((n + 1) / 2)]
	}
	END {
		if (!n) {print "soak: no sample after the warm-up"; exit 1}
		split("rss_mb goroutines open_files", name, " ")
		for (c = 3; c <= 5; c++) {
			m = median(c); lo = hi = v[c, 1]
			for (i = 1; i <= n; i++) {if (v[c, i] < lo) lo = v[c, i]; if (v[c, i] > hi) hi = v[c, i]}
			ok = lo >= 0.9 * m && hi <= 1.1 * m
			printf "soak: %s after %d s: median %s, min %s, max %s: %s\n", name[c - 2], warmup, m, lo, hi, ok ? "within 10 %" : "NOT within 10 %"
			if (!ok) bad = 1
		}
		printf "soak: failed calls: %d in all, %d after the warm-up\n", f, f - (f0 - 1)
		if (f) bad = 1
		exit bad
	}' "$OUT.csv" || status=1

gnuplot <<-PLOT
	set datafile separator ","
	set terminal pngcairo size 1000,900 font ",10"
	set output "$OUT.png"
	set key autotitle columnhead left top
	set xlabel "minutes"
	set grid
	set multiplot layout 3,1 title "gatekeeper, $RATE calls/s for $MINUTES min, sampled every 10 s"
	set ylabel "MB"
	set yrange [0:*]
	plot "$OUT.csv" using (\$2/60):3 with lines lw 2 title "RSS (MB)"
	set ylabel "count"
	plot "$OUT.csv" using (\$2/60):4 with lines lw 2 title "goroutines", "" using (\$2/60):5 with lines lw 2 title "open files"
	set ylabel "calls"
	set y2label "load average"
	set y2tics
	plot "$OUT.csv" using (\$2/60):7 with lines lw 2 title "failed calls (total)", "" using (\$2/60):8 axes x1y2 with lines title "load average (1 min)"
	unset multiplot
PLOT
echo "soak: $OUT.csv, $OUT.png"
exit "$status"
