#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Part 1: the classifier's cost per packet next to an empty TC program, from
# build/bench/classifier_cost (BPF_PROG_TEST_RUN, interleaved rounds), with 1,
# 3, 100, 1,000 and 65,535 ports configured, IPv4/IPv6, hit/miss. No lab needed.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init classifier
COST=$ROOT/build/bench/classifier_cost
need_cmd "$COST" gnuplot

: "${CC_REPEAT:=1000000}" # packets per round and program
: "${CC_ROUNDS:=15}"
CSV=$BENCH_OUT/classifier_cost.csv
TMP=$_CTBT_TMP

measure() {
	bg_wait "$TMP/cost.out" "$COST" "$CC_REPEAT" "$CC_ROUNDS" ||
		bench_die "classifier_cost failed: $(tail -n 3 "$TMP/cost.out")"
	# stdout and stderr share the file: keep the CSV lines.
	grep -E '^(config,|server,|upstream,)' "$TMP/cost.out" >"$CSV"
}

figure() {
	local f c
	for f in ipv4 ipv6; do
		for c in hit miss; do
			awk -F, -v f="$f" -v c="$c" '$1 == "server" && $2 == f && $3 == c { print $4, $5, $6, $7 }' \
				"$CSV" >"$TMP/$f-$c.dat"
		done
	done
	plot <<EOF
set terminal pngcairo size 1000,420 font "DejaVu Sans,10" noenhanced
set output "$BENCH_OUT/classifier_cost.png"
set multiplot layout 1,2 title "Classifier vs empty TC program, BPF_PROG_TEST_RUN (median of $CC_ROUNDS interleaved rounds of $CC_REPEAT packets)"
set logscale x
set xrange [0.7:100000]
set xtics ("1" 1, "3" 3, "100" 100, "1,000" 1000, "65,535" 65535)
set xlabel "TCP server ports configured"
set grid
set key bottom right
set ylabel "ratio to the empty program"
set yrange [0:2]
cases = "ipv4-hit ipv4-miss ipv6-hit ipv6-miss"
plot for [i = 1:4] "$TMP/".word(cases, i).".dat" using 1:4 with linespoints lt i pt 7 title word(cases, i), \
     1.5 with lines dt 2 lc rgb "black" title "goal: 1.5"
set ylabel "ns per packet"
set yrange [0:*]
plot for [i = 1:4] "$TMP/".word(cases, i).".dat" using 1:2 with linespoints lt i pt 7 title "classifier ".word(cases, i), \
     for [i = 1:4] "$TMP/".word(cases, i).".dat" using 1:3 with points pt 4 lc rgb "gray" title (i == 1 ? "empty program" : "")
unset multiplot
EOF
}

report() {
	local worst flat up
	frag "## 1. Classifier cost per packet" ""
	frag "\`build/bench/classifier_cost $CC_REPEAT $CC_ROUNDS\`: the ctbypass classifier and an empty TC" \
		"program (\`bpf/empty.bpf.c\`) run on the same crafted TCP SYN with \`BPF_PROG_TEST_RUN\`," \
		"$CC_REPEAT packets a round, $CC_ROUNDS rounds alternating which program goes first, on one" \
		"pinned CPU. Each port count has a classifier instance of its own, configured once, and" \
		"every round goes through all of them, so a change in the machine's speed during the run" \
		"spreads over all rows alike. ns = the median round's wall time per packet (it includes the test harness's" \
		"own cost, the same for both); ratio = the median of the rounds' classifier/empty ratios." \
		"A hit is a packet to a configured port (443), a miss one from it to a client port (both" \
		"port lookups, no match). \`upstream\` rows add one upstream (198.18.4.0/24:3128," \
		"[fd00:c7::/64]:3128) and send from port 3128, so the LPM trie is consulted; the goal is" \
		"stated for server ports." ""
	frag "| config | family | case | ports | classifier ns | empty ns | ratio |" \
		"|---|---|---|---:|---:|---:|---:|"
	awk -F, 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' \
		"$CSV" >>"$BENCH_FRAG/$BENCH_PART.md"
	frag "" "![classifier cost](classifier_cost.png)" "" "Data: \`classifier_cost.csv\`."
	worst=$(awk -F, 'NR > 1 && $1 == "server" && $7 > w { w = $7 } END { print w + 0 }' "$CSV")
	# Flat: at 65,535 ports, the ratio of each family/case against its own at 1 port.
	flat=$(awk -F, 'NR > 1 && $1 == "server" { r[$2 $3, $4] = $7; k[$2 $3] = 1 }
		END { for (c in k) { q = r[c, 65535] / r[c, 1]; if (q > w) w = q }; printf "%.2f", w }' "$CSV")
	up=$(awk -F, 'NR > 1 && $1 == "upstream" && $7 > w { w = $7 } END { print w + 0 }' "$CSV")
	goal "classifier <= 1.5 x empty program (worst of server ports 1-65,535, v4/v6, hit/miss)" \
		"$worst x" "$(le "$worst" 1.5)"
	goal "classifier flat in the number of ports (ratio at 65,535 / ratio at 1, worst case; <= 1.15)" \
		"$flat" "$(le "$flat" 1.15)"
	goal "(outside the goal) with an upstream configured, LPM trie consulted" "$up x" "-"
}

measure
figure || bench_die "gnuplot failed"
report
_CTBT_FINISHED=1
exit 0
