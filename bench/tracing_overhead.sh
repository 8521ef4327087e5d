#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Part 4: what `ctbypass watch` costs the traffic it watches. New connections
# per second into a tracked namespace (conntrack on, nothing bypassed: every
# connection is an insert and a destroy for the tracer to see), with no tracer
# and with `watch` on each backend that runs here, interleaved like part 2.
# A backend that cannot run on this kernel is reported with its reason.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init tracing_overhead

RAW=$BENCH_OUT/tracing_overhead_raw.csv
SUM=$BENCH_OUT/tracing_overhead.csv
TMP=$_CTBT_TMP
TRACERS=(none)
sum_field() { grep -o "\"$1\":[0-9]*" "$2" | awk -F: '{ s += $2 } END { print s + 0 }'; }

# setup: a tracked lab per tracer; each backend's watcher runs on its own lab
# from here to the end, so runs need nothing started or stopped between them.
setup() {
	local t
	for t in "${TRACERS[@]}"; do
		bench_pair "$t"
		ct_on
		in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
		[ "$t" = none ] && continue
		watch_on "$t" "$TMP/watch-$t.out" ||
			bench_die "watch --backend $t did not start: $(head -c 300 "$TMP/watch-$t.out.err")"
		WATCHERS[$t]=$WATCH_PID
	done
}

stop_watchers() {
	local t
	for t in "${!WATCHERS[@]}"; do
		WATCH_PID=${WATCHERS[$t]}
		watch_off
	done
}

# run_one REP TRACER: one wrk run on TRACER's lab, its table emptied after
# (see conn_rate.sh), holding the nf_conntrack_max lock meanwhile.
run_one() {
	(
		local rps req err
		use_pair "$2"
		hold_ct_max 300 >/dev/null 2>&1 || exit 3
		read -r rps req err < <(wrk_run "$TMP/wrk.out")
		echo "$1,$2,$rps,$req,$err" >>"$RAW"
		in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
		exit 0
	)
	case $? in
	0) ;;
	3) bench_die "nf_conntrack_max stayed lowered by a test for 300 s" ;;
	*) bench_die "$2 run failed" ;;
	esac
}

measure() {
	local rep k i n=${#TRACERS[@]}
	echo "rep,tracer,conn_per_s,requests,errors" >"$RAW"
	for ((rep = 1; rep <= BENCH_REPS; rep++)); do
		echo "  repetition $rep/$BENCH_REPS" >&2
		for ((k = 0; k < n; k++)); do
			i=$(((k + rep - 1) % n))
			run_one "$rep" "${TRACERS[i]}"
		done
	done
	stop_watchers
	# What each watcher saw over the whole part, against what was sent.
	for i in "${TRACERS[@]}"; do
		[ "$i" = none ] && continue
		echo "$i $(sum_field inserts "$TMP/watch-$i.out") $(sum_field lost_events "$TMP/watch-$i.out")"
	done >"$TMP/seen"
	awk -F, -v seenfile="$TMP/seen" '
		NR == 1 { next }
		{ r[$2, $1] = $3; if (!($2 in seen)) { seen[$2] = 1; t[++n] = $2 }; reps[$1] = 1
		  sent[$2] += $4 }
		function med(a, m,   i, j, x) {
			for (i = 2; i <= m; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
			return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
		}
		END {
			while ((getline line < seenfile) > 0) { split(line, f, " "); ins[f[1]] = f[2]; lost[f[1]] = f[3] }
			print "tracer,median_conn_per_s,min,max,ratio_to_none,requests_sent,tracer_inserts,tracer_lost_events"
			for (k = 1; k <= n; k++) {
				m = 0; mr = 0; lo = ""; hi = ""
				for (rep in reps) {
					v = r[t[k], rep]; if (v == "") continue
					x[++m] = v; if (lo == "" || v < lo) lo = v; if (hi == "" || v > hi) hi = v
					if (r["none", rep] > 0) q[++mr] = v / r["none", rep]
				}
				printf "%s,%.0f,%s,%s,%.3f,%d,%s,%s\n", t[k], med(x, m), lo, hi, med(q, mr), sent[t[k]],
					t[k] == "none" ? "" : ins[t[k]], t[k] == "none" ? "" : lost[t[k]]
				delete x; delete q
			}
		}' "$RAW" >"$SUM"
}

report() {
	local b
	frag "## 4. Tracing overhead of \`ctbypass watch\`" ""
	frag "New connections per second as in part 2 (wrk, \`Connection: close\`, ${BENCH_SECS} s runs," \
		"$BENCH_REPS interleaved repetitions), into the tracked configuration (conntrack on, nothing" \
		"bypassed, so every connection is an insert and a destroy for the tracer), with no tracer" \
		"and with \`ctbypass -n NS watch --json --interval 1 --backend B\` running. As in part 2," \
		"each tracer has its own lab (its watcher runs there from before the first run to after" \
		"the last), the runs go round the labs, and the measured table is emptied after each run." \
		"Inserts the tracer counted also include connections wrk had open when a run ended and" \
		"the set-up checks." ""
	if [ ${#TRACERS[@]} -gt 1 ]; then
		frag "| tracer | conn/s (median) | min-max | vs no tracer | requests sent | inserts the tracer counted | lost events |" \
			"|---|---:|---:|---:|---:|---:|---:|"
		awk -F, 'NR > 1 { printf "| %s | %s | %s-%s | %.3f | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }' \
			"$SUM" >>"$BENCH_FRAG/$BENCH_PART.md"
		frag "" "Each tracer's runs in the order they ran (conn/s), to show a trend a median hides:" ""
		awk -F, 'NR > 1 { r[$2] = r[$2] (r[$2] == "" ? "" : ", ") $3 } END { for (t in r) print "- " t ": " r[t] }' \
			"$RAW" | sort >>"$BENCH_FRAG/$BENCH_PART.md"
		frag "" "Raw runs: \`tracing_overhead_raw.csv\`; summary: \`tracing_overhead.csv\`."
	fi
	for b in "${WATCH_BACKENDS[@]}"; do
		if [ -n "${WATCH_WHY[$b]:-}" ]; then
			frag "- **$b**: not measured: ${WATCH_WHY[$b]}"
			goal "tracing overhead, $b backend (no numeric goal: measured ratio)" \
				"not measured: ${WATCH_WHY[$b]}" "-"
		else
			goal "tracing overhead, $b backend (no numeric goal: measured ratio)" \
				"$(awk -F, -v b="$b" '$1 == b { print $5 " x no tracer" }' "$SUM")" "-"
		fi
	done
	[ ${#WATCH_WHY[@]} -gt 0 ] && frag "" "fentry and kprobe are exercised in the QEMU VM lab (\`make vmtest\`), where the" \
		"stock Debian kernel allows them; \`make bench\` runs on the host only."
	return 0
}

declare -A WATCHERS=()
bench_pair none
probe_watch
TRACERS+=("${WATCH_OK[@]}")
if [ ${#TRACERS[@]} -gt 1 ]; then
	setup
	measure
fi
report
bench_done
