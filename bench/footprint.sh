#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Part 5: what ctbypass holds. The BPF maps of the attached classifier (from
# bpftool, with 1 and 1,000 ports configured), and the CPU and RSS of
# `ctbypass watch` each second, idle and under a flood of new connections
# (wrk, Connection: close, into the tracked namespace), on each backend that
# runs here.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init footprint
need_cmd bpftool tc

MAPS=$BENCH_OUT/footprint_maps.csv
WATCH=$BENCH_OUT/footprint_watch.csv
TMP=$_CTBT_TMP
: "${FP_IDLE_SECS:=8}"
: "${FP_FLOOD_SECS:=8}"
HZ=$(getconf CLK_TCK)

# The classifier's program id, from the hook ctbypass put it on (the lab veth's):
# other runs may have classifiers of their own loaded.
prog_id() {
	classifier_id "$SRV_NS" "$SRV_DEV"
}

# json_field JSON NAME: a scalar field of bpftool's one-line JSON.
json_field() {
	grep -o "\"$2\":[^,}]*" <<<"$1" | head -n 1 | cut -d: -f2 | tr -d '"'
}

maps_for() {
	local ports=$1 n=$2 id prog m j
	srv_reset
	ct_on
	"$CTBYPASS" -n "$SRV_NS" attach --ports "$ports" >/dev/null || bench_die "attach --ports $ports failed"
	id=$(prog_id)
	[ -n "$id" ] || bench_die "no classifier on $SRV_DEV after attach"
	prog=$(bpftool prog show id "$id" -j)
	echo "$n,program ctb_ingress,prog,,,,$(json_field "$prog" bytes_memlock),$(json_field "$prog" bytes_jited)" >>"$MAPS"
	# shellcheck disable=SC2013 # ids, one word each
	for m in $(grep -o '"map_ids":\[[0-9,]*\]' <<<"$prog" | grep -o '[0-9]\+'); do
		j=$(bpftool map show id "$m" -j)
		echo "$n,$(json_field "$j" name),$(json_field "$j" type),$(json_field "$j" bytes_key),$(json_field "$j" bytes_value),$(json_field "$j" max_entries),$(json_field "$j" bytes_memlock)," >>"$MAPS"
	done
	srv_reset
}

# sample_watch BACKEND PHASE SECS: CPU % and RSS of $WATCH_PID, once a second.
sample_watch() {
	local b=$1 phase=$2 secs=$3 i t0 t1 c0 c1 rss
	c0=$(awk '{ print $14 + $15 }' "/proc/$WATCH_PID/stat")
	t0=$(date +%s.%N)
	for ((i = 1; i <= secs; i++)); do
		sleep 1
		c1=$(awk '{ print $14 + $15 }' "/proc/$WATCH_PID/stat" 2>/dev/null) || return 1
		t1=$(date +%s.%N)
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$WATCH_PID/status")
		awk -v b="$b" -v p="$phase" -v i="$i" -v c="$((c1 - c0))" -v hz="$HZ" -v t0="$t0" \
			-v t1="$t1" -v rss="$rss" \
			'BEGIN { printf "%s,%s,%d,%.1f,%d\n", b, p, i, 100 * c / hz / (t1 - t0), rss }' >>"$WATCH"
		c0=$c1
		t0=$t1
	done
}

watch_footprint() {
	local b=$1 wrk_pid
	srv_reset
	ct_on
	watch_on "$b" "$TMP/watch.out" || bench_die "watch --backend $b did not start"
	sample_watch "$b" idle "$FP_IDLE_SECS" || bench_die "watch --backend $b exited while idle"
	# Longer than the sampling, which starts while wrk is still starting up.
	BENCH_SECS=$((FP_FLOOD_SECS + 2)) wrk_run "$TMP/wrk.out" >"$TMP/wrk.sum" &
	wrk_pid=$!
	lab_track_pid "$wrk_pid"
	sample_watch "$b" flood "$FP_FLOOD_SECS" || bench_die "watch --backend $b exited under the flood"
	wait "$wrk_pid"
	FLOOD_RATE[$b]=$(awk '{ print $1 }' "$TMP/wrk.sum")
	watch_off
	srv_reset
}

figure() {
	local b
	# One file a backend, seconds running on from idle into the flood.
	for b in "${WATCH_OK[@]}"; do
		awk -F, -v b="$b" -v idle="$FP_IDLE_SECS" 'NR > 1 && $1 == b {
			printf "%d %s %.2f\n", $3 + ($2 == "flood" ? idle : 0), $4, $5 / 1024 }' \
			"$WATCH" >"$TMP/fp_$b.dat"
	done
	plot <<EOF
set terminal pngcairo size 1000,420 font "DejaVu Sans,10" noenhanced
set output "$BENCH_OUT/footprint_watch.png"
set multiplot layout 1,2 title "ctbypass watch, each second: idle for $FP_IDLE_SECS s, then a flood of new connections"
set grid
set xlabel "seconds"
set key top left
set arrow 1 from $FP_IDLE_SECS + 0.5, graph 0 to $FP_IDLE_SECS + 0.5, graph 1 nohead dt 2
set ylabel "CPU % (of one CPU)"
set yrange [0:*]
plot for [b in "${WATCH_OK[*]}"] "$TMP/fp_".b.".dat" using 1:2 with linespoints pt 7 title b
set ylabel "RSS, MiB"
plot for [b in "${WATCH_OK[*]}"] "$TMP/fp_".b.".dat" using 1:3 with linespoints pt 7 title b
unset multiplot
EOF
}

report() {
	local b total
	frag "## 5. Footprint" "" "### BPF maps of the attached classifier" ""
	frag "From \`bpftool prog show\` / \`bpftool map show\` for the program on the lab veth after" \
		"\`ctbypass attach\`. The port array is sized for every (protocol, port) pair, so its memory" \
		"does not depend on how many ports are configured." ""
	frag "| ports configured | object | type | key B | value B | max entries | bytes (memlock) |" \
		"|---:|---|---|---:|---:|---:|---:|"
	awk -F, 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' \
		"$MAPS" >>"$BENCH_FRAG/$BENCH_PART.md"
	for n in 1 1000; do
		total=$(awk -F, -v n="$n" 'NR > 1 && $1 == n && $2 ~ /^(ports|upstreams|stats)$/ { s += $7 } END { print s + 0 }' "$MAPS")
		frag "" "Maps ports + upstreams + stats with $n port(s): $total bytes ($(awk -v s="$total" 'BEGIN { printf "%.2f", s / 1048576 }') MiB)."
		goal "BPF map memory (ports, upstreams, stats), $n port(s) (no numeric goal)" "$total bytes" "-"
	done
	frag "" "The LPM trie \`upstreams\` allocates per element; bpftool shows its memory without any" \
		"upstream configured. \`stats\` is per CPU: its size scales with the number of CPUs" \
		"($(nproc) here)." ""
	frag "### \`ctbypass watch\`: CPU and memory" ""
	if [ ${#WATCH_OK[@]} -gt 0 ]; then
		frag "\`ctbypass -n NS watch --json --interval 1 --backend B\` on the tracked lab namespace:" \
			"${FP_IDLE_SECS} s idle, then ${FP_FLOOD_SECS} s of wrk (\`Connection: close\`, every request" \
			"a new connection and so an insert and a destroy). CPU from \`/proc/PID/stat\`" \
			"(user + system, % of one CPU), RSS from \`/proc/PID/status\`, each second." ""
		frag "| backend | phase | CPU % mean | CPU % max | RSS max (MiB) | load (new conn/s) |" \
			"|---|---|---:|---:|---:|---:|"
		for b in "${WATCH_OK[@]}"; do
			awk -F, -v b="$b" -v rate="${FLOOD_RATE[$b]:-}" '
				NR > 1 && $1 == b { n[$2]++; s[$2] += $4; if ($4 > m[$2]) m[$2] = $4; if ($5 > r[$2]) r[$2] = $5 }
				END { for (p = 1; p <= 2; p++) { ph = p == 1 ? "idle" : "flood"
					printf "| %s | %s | %.1f | %.1f | %.1f | %s |\n", b, ph, s[ph] / n[ph], m[ph], r[ph] / 1024,
						ph == "flood" ? rate : "0" } }' "$WATCH" >>"$BENCH_FRAG/$BENCH_PART.md"
			# The issue's goal: RSS < 10 MB (10^7 bytes) and idle CPU < 1 %, both.
			awk -F, -v b="$b" '
				NR > 1 && $1 == b { n[$2]++; s[$2] += $4; if ($5 > r) r = $5 }
				END { idle = s["idle"] / n["idle"]
					printf "CPU %.1f %% idle, %.1f %% under the flood; RSS max %.1f MiB (%.1f MB)|%s\n",
						idle, s["flood"] / n["flood"], r / 1024, r * 1024 / 1e6,
						(r * 1024 < 1e7 && idle < 1) ? "met" : "**not met**" }' "$WATCH" >"$TMP/fp_goal"
			goal "watch footprint, $b backend (goal: RSS < 10 MB and idle CPU < 1 %)" \
				"$(cut -d'|' -f1 "$TMP/fp_goal")" "$(cut -d'|' -f2 "$TMP/fp_goal")"
		done
		frag "" "![watch footprint](footprint_watch.png)" "" "Data: \`footprint_watch.csv\`, \`footprint_maps.csv\`."
	fi
	for b in "${WATCH_BACKENDS[@]}"; do
		[ -n "${WATCH_WHY[$b]:-}" ] || continue
		frag "- **$b**: not measured here: ${WATCH_WHY[$b]} (part 4 gives its peak RSS in the VM lab)"
		goal "watch footprint, $b backend (goal: RSS < 10 MB and idle CPU < 1 %)" \
			"not measured on this kernel: ${WATCH_WHY[$b]}; peak RSS in the VM lab: see part 4" "-"
	done
	return 0
}

declare -A FLOOD_RATE=()
bench_lab
echo "ports_configured,name,type,bytes_key,bytes_value,max_entries,bytes_memlock,bytes_jited" >"$MAPS"
maps_for 80 1
maps_for 20001-20999,80 1000
probe_watch
echo "backend,phase,second,cpu_pct,rss_kib" >"$WATCH"
# The flood fills the tracked table: no test may lower the global max meanwhile.
[ ${#WATCH_OK[@]} -gt 0 ] && { hold_ct_max 300 || bench_die "nf_conntrack_max stayed lowered for 300 s"; }
for b in "${WATCH_OK[@]}"; do
	watch_footprint "$b"
done
[ ${#WATCH_OK[@]} -gt 0 ] && { figure || bench_die "gnuplot failed"; }
report
bench_done
