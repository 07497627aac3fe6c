#!/bin/sh
# Plots the SEDA rows of a threads.csv (library,metric,value): reads per second against the
# number of threads, log x axis, one line per library.  Run by the `threads` driver; also usable
# on its own:  bench/threads/plot_seda.sh bench/results/threads.csv bench/results/threads-seda.png
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 THREADS.csv OUT.png" >&2
    exit 2
fi
csv=$1
png=$2

if ! command -v gnuplot >/dev/null 2>&1; then
    echo "gnuplot not installed: no $png" >&2
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One data file per library, in the order libraries first appear in the CSV; ratio rows
# (cpc/st) and failed runs are left out.
awk -F, -v dir="$tmp" '
    $1 !~ /\// && $2 ~ /^seda_rps_[0-9]+$/ && $3 ~ /^[0-9.eE+-]+$/ {
        if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
        print substr($2, 10), $3 > (dir "/" $1 ".dat")
    }
    END { for (i = 1; i <= n; i++) print order[i] > (dir "/libs") }
' "$csv"

if [ ! -s "$tmp/libs" ]; then
    echo "no SEDA rows in $csv: no $png" >&2
    exit 0
fi

# Fixed colours so that plots of different runs compare at a glance; cpc drawn heaviest.
style() {
    case $1 in
        cpc) echo 'linecolor rgb "#d62728" linewidth 3' ;;
        baseline) echo 'linecolor rgb "#7f7f7f" linewidth 2 dashtype 2' ;;
        boost) echo 'linecolor rgb "#2ca02c" linewidth 2' ;;
        st) echo 'linecolor rgb "#1f77b4" linewidth 2' ;;
        pth) echo 'linecolor rgb "#ff7f0e" linewidth 2' ;;
        nptl) echo 'linecolor rgb "#9467bd" linewidth 2' ;;
        *) echo 'linewidth 2' ;;
    esac
}

plots=""
while read -r lib; do
    [ -n "$plots" ] && plots="$plots, "
    plots="$plots'$tmp/$lib.dat' using 1:2 with linespoints $(style "$lib") pointtype 7 title '$lib'"
done <"$tmp/libs"

gnuplot <<EOF
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 900,560 font "sans,11"
} else {
    set terminal png size 900,560
}
set output '$png'
set title "SEDA-style scaling: each thread preads 8 KiB of a cached file, then yields (one core)"
set xlabel "threads"
set ylabel "reads per second"
set logscale x 10
set format x "10^{%L}"
set xrange [50:2e7]
set yrange [0:*]
set format y "%.0s%c"
set grid
set key outside right top
plot $plots
EOF
echo "wrote $png" >&2
