#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Part 3: the seeds' flash sale, three ways in one run. The server namespace's
# table first holds established entries of other clients (ctfill, port 443) up
# to FS_START_PCT of nf_conntrack_max, lowered to FS_CT_MAX for the part (and
# restored on every exit); real clients request port 80 at a fixed pace
# throughout; at FS_FLOOD_AT a crowd of keep-alive visitors opens FS_FLOOD
# connections to port 80 and holds them, pushing the table past the max. Then:
#   none    nothing is done;
#   manual  `ctbypass attach --ports 80` runs at FS_ATTACH_AT;
#   guard   `ctbypass daemon` runs with guard-ports = 80 and no configured bypass;
#   guard_full  the same with guard-fill = 100: it acts only once the table is
#           full, which times its reaction from the kernel's first drop.
# Sampled in 1 s buckets; in the guard run a 5 ms poller inside the namespace
# times the table crossing the guard's level, the first drop, and the bypass.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init flash_sale
need_cmd "$HTTPLOAD" "$CTFILL" gnuplot

: "${FS_SECS:=40}"
: "${FS_FLOOD_AT:=5}"
: "${FS_ATTACH_AT:=15}"
: "${FS_RATE:=100}"        # real clients' requests a second
: "${FS_TIMEOUT_MS:=1000}" # a request that takes longer has failed
: "${FS_CT_MAX:=10000}"    # nf_conntrack_max for the part
: "${FS_START_PCT:=80}"    # the table's fill when the sale starts: below the guard's 90 %
: "${FS_FLOOD:=3000}"      # the crowd's held connections: past the max
: "${FS_FLOOD_RATE:=500}"  # how fast they arrive
: "${FS_GUARD_FILL:=90}"
MODES=(none manual guard guard_full)
TMP=$_CTBT_TMP
# The crowd holds more connections than nginx's default 1,024.
export NGINX_WORKER_CONNECTIONS=8192

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
out() { echo "$BENCH_OUT/flash_sale_$1_$2.csv"; } # MODE KIND

# One line a second on the second: time, entries and conntrack's counters.
sampler() {
	local t0=$1 i=0 stats
	echo "t,entries,drop,early_drop,insert_failed"
	while [ "$i" -le "$FS_SECS" ]; do
		stats=$(in_ns "$SRV_NS" conntrack -S 2>/dev/null | awk '
			{ for (i = 1; i <= NF; i++) { split($i, kv, "="); s[kv[1]] += kv[2] } }
			END { printf "%d,%d,%d", s["drop"], s["early_drop"], s["insert_failed"] }')
		echo "$(since "$t0" "$(now)"),$(ct_count "$SRV_NS"),$stats"
		i=$((i + 1))
		sleep "$(awk -v n="$t0" -v i="$i" -v t="$(now)" 'BEGIN { d = n + i - t; print (d > 0 ? d : 0) }')"
	done
}

# The guard run's fine clock, inside the namespace (no exec per look): every
# 5 ms the count, the drop counters (/proc/net/stat/nf_conntrack, hex per CPU)
# and the guard's record, which the daemon writes once its bypass is in place.
# Prints "cross T", "drop T", "guarded T" (seconds since T0) the first time each happens.
fine_clock() {
	local t0=$1 level=$2 record=$3
	# shellcheck disable=SC2016 # expanded by the inner bash
	in_ns "$SRV_NS" bash -c '
		t0=$1 level=$2 record=$3 secs=$4
		drops() {
			local line sum=0 col=-1 i f
			while read -r -a f; do
				if [ "$col" -lt 0 ]; then
					for i in "${!f[@]}"; do [ "${f[i]}" = drop ] && col=$i; done
					continue
				fi
				sum=$((sum + 16#${f[col]}))
			done </proc/net/stat/nf_conntrack
			echo $sum
		}
		base=$(drops) cross= drop= guarded=
		end=$(awk -v t="$t0" -v s="$secs" "BEGIN { printf \"%d\", t + s }")
		while [ "${EPOCHREALTIME%.*}" -lt "$end" ]; do
			t=$EPOCHREALTIME
			if [ -z "$cross" ] && [ "$(</proc/sys/net/netfilter/nf_conntrack_count)" -ge "$level" ]; then
				cross=$t; echo "cross $(awk -v a="$t0" -v b="$t" "BEGIN { printf \"%.3f\", b - a }")"
			fi
			if [ -z "$drop" ] && [ "$(drops)" -gt "$base" ]; then
				drop=$t; echo "drop $(awk -v a="$t0" -v b="$t" "BEGIN { printf \"%.3f\", b - a }")"
			fi
			if [ -z "$guarded" ] && [ -e "$record" ]; then
				guarded=$t; echo "guarded $(awk -v a="$t0" -v b="$t" "BEGIN { printf \"%.3f\", b - a }")"
			fi
			[ -n "$guarded" ] && [ -n "$drop" ] && break
			sleep 0.005
		done' _ "$t0" "$level" "$record" "$FS_SECS"
}

# sleep_until T0 S: until S seconds after T0. In the background, so Ctrl-C's
# trap runs at once rather than after the sleep.
sleep_until() {
	sleep "$(awk -v t0="$1" -v s="$2" -v t="$(now)" 'BEGIN { d = t0 + s - t; print (d > 0 ? d : 0) }')" &
	wait $!
}

declare -A T_FLOOD T_ACT T_ACTED FILLED DROP_ACT DROP_END CLIENTS FLOODED PORT80
declare -A GUARD_CROSS GUARD_DROP GUARD_AT GUARD_LOG_MS GUARD_LINE GUARD_LEVEL

# run_sale MODE
run_sale() {
	local mode=$1 n t0 clients sampler_pid flood daemon_pid fine_pid record conf log
	local reqs samples
	reqs=$(out "$mode" requests)
	samples=$(out "$mode" samples)
	srv_reset
	ct_on
	n=$((FS_CT_MAX * FS_START_PCT / 100))
	"$CTFILL" -n "$SRV_NS" --count "$n" --dport 443 --timeout 600 >"$TMP/fill.out" 2>&1
	[ "$(ct_count "$SRV_NS")" -ge "$n" ] ||
		bench_die "ctfill: $(ct_count "$SRV_NS") of $n entries ($(head -c 200 "$TMP/fill.out"))"
	FILLED[$mode]=$(ct_count "$SRV_NS")
	if [[ $mode == guard* ]]; then
		conf=$TMP/guard.conf
		log=$TMP/$mode.log
		GUARD_LEVEL[$mode]=$FS_GUARD_FILL
		[ "$mode" = guard_full ] && GUARD_LEVEL[$mode]=100
		printf 'guard-ports = 80\nguard-fill = %s\nmetrics-address = off\n' \
			"${GUARD_LEVEL[$mode]}" >"$conf"
		(_ctbt_spawn "$CTBYPASS" -n "$SRV_NS" daemon --config "$conf") >"$log" 2>&1 &
		daemon_pid=$!
		lab_track_pid "$daemon_pid"
		wait_until 10 grep -q "running (pid $daemon_pid)" "$log" ||
			bench_die "the daemon did not start: $(tail -n 3 "$log")"
		record=/run/ctbypass/netns-$(stat -L -c %i "/run/netns/$SRV_NS").guarded
	fi

	t0=$(now)
	sampler "$t0" >"$samples" &
	sampler_pid=$!
	lab_track_pid "$sampler_pid"
	if [[ $mode == guard* ]]; then
		fine_clock "$t0" $((FS_CT_MAX * GUARD_LEVEL[$mode] / 100)) "$record" >"$TMP/fine.out" &
		fine_pid=$!
		lab_track_pid "$fine_pid"
	fi
	in_ns "$CLI_NS" "$HTTPLOAD" clients --to "$SRV_IP4" --port 80 --rate "$FS_RATE" \
		--duration "$FS_SECS" --timeout-ms "$FS_TIMEOUT_MS" >"$TMP/requests.raw" \
		2>"$TMP/clients.err" &
	clients=$!
	lab_track_pid "$clients"

	sleep_until "$t0" "$FS_FLOOD_AT"
	T_FLOOD[$mode]=$(since "$t0" "$(now)")
	in_ns "$CLI_NS" "$HTTPLOAD" flood --to "$SRV_IP4" --port 80 --rate "$FS_FLOOD_RATE" \
		--count "$FS_FLOOD" --duration $((FS_SECS - FS_FLOOD_AT)) 2>"$TMP/flood.err" &
	flood=$!
	lab_track_pid "$flood"

	T_ACT[$mode]= T_ACTED[$mode]= DROP_ACT[$mode]=
	if [ "$mode" = manual ]; then
		sleep_until "$t0" "$FS_ATTACH_AT"
		T_ACT[$mode]=$(since "$t0" "$(now)")
		"$CTBYPASS" -n "$SRV_NS" attach --ports 80 >"$TMP/attach.out" 2>&1 ||
			bench_die "ctbypass attach failed: $(head -c 300 "$TMP/attach.out")"
		T_ACTED[$mode]=$(since "$t0" "$(now)")
		DROP_ACT[$mode]=$(ct_stat "$SRV_NS" drop)
	fi

	wait "$clients" || bench_die "httpload clients failed: $(cat "$TMP/clients.err")"
	wait "$flood"
	DROP_END[$mode]=$(ct_stat "$SRV_NS" drop)
	wait "$sampler_pid"
	CLIENTS[$mode]=$(sed -n 's/^httpload: //p' "$TMP/clients.err")
	FLOODED[$mode]=$(sed -n 's/^httpload: //p' "$TMP/flood.err")
	PORT80[$mode]=$(ct_entries "$SRV_NS" -p tcp --orig-port-dst 80)
	if [[ $mode == guard* ]]; then
		kill "$fine_pid" 2>/dev/null
		wait "$fine_pid" 2>/dev/null
		GUARD_CROSS[$mode]=$(awk '$1 == "cross" { print $2 }' "$TMP/fine.out")
		GUARD_DROP[$mode]=$(awk '$1 == "drop" { print $2 }' "$TMP/fine.out")
		GUARD_AT[$mode]=$(awk '$1 == "guarded" { print $2 }' "$TMP/fine.out")
		GUARD_LOG_MS[$mode]=$(sed -n 's/.*in place after \([0-9]*\) ms.*/\1/p' "$log" | head -n 1)
		GUARD_LINE[$mode]=$(grep -m1 "guard: .*bypassing" "$log" | sed 's/^<[0-9]>//')
		[ -n "${GUARD_AT[$mode]}" ] ||
			bench_die "the guard did not act ($mode): $(grep guard: "$log" | tail -n 3)"
		T_ACT[$mode]=${GUARD_AT[$mode]}
		T_ACTED[$mode]=${GUARD_AT[$mode]}
		kill -TERM "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	"$CTBYPASS" -n "$SRV_NS" detach >/dev/null 2>&1
	# Requests against the sampler's clock: seconds since t0.
	awk -F, -v t0="$t0" 'NR == 1 { print "t,latency_ms,result"; next }
		{ printf "%.3f,%s,%s\n", $1 - t0, $2, $3 }' "$TMP/requests.raw" >"$reqs"
}

# buckets MODE: 1 s buckets by request start: requests, ok, failed, success %,
# p99 latency (a failed request counts with the latency at which it gave up),
# drops/s, entries.
buckets() {
	awk -F, -v secs="$FS_SECS" '
		FNR == 1 { next }
		FILENAME == ARGV[1] {
			s = int($1); if (s < 0 || s >= secs) next
			n[s]++; if ($3 == "ok") ok[s]++
			lat[s, n[s]] = $2
			next
		}
		{ k = int($1 + 0.5); t[k] = $1; e[k] = $2; d[k] = $3 }
		END {
			print "second,requests,ok,failed,success_pct,p99_ms,drops_per_s,entries"
			for (s = 0; s < secs; s++) {
				m = n[s] + 0
				for (i = 1; i <= m; i++) v[i] = lat[s, i]
				for (i = 2; i <= m; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
				k = int(0.99 * m); if (k < 0.99 * m) k++
				p = m ? v[k] : ""
				dr = ((s + 1) in d && s in d) ? (d[s + 1] - d[s]) / (t[s + 1] - t[s]) : ""
				printf "%d,%d,%d,%d,%s,%s,%s,%s\n", s, m, ok[s] + 0, m - ok[s], \
					m ? sprintf("%.1f", 100 * ok[s] / m) : "", p, \
					dr == "" ? "" : sprintf("%.0f", dr), e[s]
			}
		}' "$(out "$1" requests)" "$(out "$1" samples)" >"$(out "$1" buckets)"
}

# phase MODE FROM TO: "requests ok failed p99" of requests started in [FROM, TO).
phase() {
	awk -F, -v a="$2" -v b="$3" 'NR > 1 && $1 >= a && $1 < b {
			n++; if ($3 == "ok") ok++; v[n] = $2 }
		END {
			for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
			k = int(0.99 * n); if (k < 0.99 * n) k++
			printf "%d %d %d %s\n", n, ok + 0, n - ok, n ? v[k] : "-"
		}' "$(out "$1" requests)"
}

# drops_between MODE FROM TO: conntrack drops between the samples nearest FROM and TO.
drops_between() {
	awk -F, -v a="$2" -v b="$3" 'NR > 1 {
			if (da == "" && $1 >= a) da = $3
			if ($1 <= b) db = $3 }
		END { print (da == "" || db == "") ? 0 : db - da }' "$(out "$1" samples)"
}

figure() {
	local b_none b_manual b_guard b_full s_none s_manual s_guard s_full
	b_none=$(out none buckets) b_manual=$(out manual buckets) b_guard=$(out guard buckets)
	s_none=$(out none samples) s_manual=$(out manual samples) s_guard=$(out guard samples)
	b_full=$(out guard_full buckets) s_full=$(out guard_full samples)
	plot <<EOF
set terminal pngcairo size 1000,900 font "DejaVu Sans,10" noenhanced
set output "$BENCH_OUT/flash_sale.png"
set datafile separator ","
set multiplot layout 3,1 title "Flash sale: nothing done, ctbypass attach at ${FS_ATTACH_AT} s, the daemon's guard at 90 % and at 100 % (1 s buckets)"
set xrange [0:$FS_SECS]
set grid
set lmargin 12
set key center right opaque box
set arrow 1 from ${T_ACT[manual]}, graph 0 to ${T_ACT[manual]}, graph 1 nohead lw 2 lc rgb "#228833" dt 2
set arrow 2 from ${T_FLOOD[none]}, graph 0 to ${T_FLOOD[none]}, graph 1 nohead lw 1 lc rgb "#aa3377" dt 3
set arrow 3 from ${T_ACT[guard]}, graph 0 to ${T_ACT[guard]}, graph 1 nohead lw 2 lc rgb "#4477aa" dt 2
set label 1 "manual attach" at ${T_ACT[manual]}, graph 0.9 offset 0.5,0 tc rgb "#228833"
set label 2 "crowd starts" at ${T_FLOOD[none]}, graph 0.6 offset 0.5,0 tc rgb "#aa3377"
set label 3 "guard" at ${T_ACT[guard]}, graph 0.75 offset 0.5,0 tc rgb "#4477aa"
set format x ""
set ylabel "entries"
set format y "%.0f"
plot "$s_none" using 1:2 skip 1 with lines lw 2 lc rgb "#ee6677" title "no action", \
     "$s_manual" using 1:2 skip 1 with lines lw 2 lc rgb "#228833" title "manual attach", \
     "$s_guard" using 1:2 skip 1 with lines lw 2 lc rgb "#4477aa" title "guard", \
     "$s_full" using 1:2 skip 1 with lines lw 1 lc rgb "#aa3377" dt 4 title "guard, guard-fill 100", \
     $FS_CT_MAX with lines lc rgb "black" dt 2 title "nf_conntrack_max ($FS_CT_MAX)"
unset label 1
unset label 2
unset label 3
set ylabel "failed requests/s"
set yrange [0:*]
plot "$b_none" using (\$1+0.5):4 skip 1 with linespoints pt 7 ps 0.5 lc rgb "#ee6677" title "no action", \
     "$b_manual" using (\$1+0.5):4 skip 1 with linespoints pt 7 ps 0.5 lc rgb "#228833" title "manual attach", \
     "$b_guard" using (\$1+0.5):4 skip 1 with linespoints pt 7 ps 0.5 lc rgb "#4477aa" title "guard", \
     "$b_full" using (\$1+0.5):4 skip 1 with linespoints pt 6 ps 0.5 lc rgb "#aa3377" title "guard, guard-fill 100"
set format x "%g"
set xlabel "seconds"
set ylabel "conntrack drops/s"
plot "$b_none" using (\$1+0.5):7 skip 1 with linespoints pt 7 ps 0.5 lc rgb "#ee6677" title "no action", \
     "$b_manual" using (\$1+0.5):7 skip 1 with linespoints pt 7 ps 0.5 lc rgb "#228833" title "manual attach", \
     "$b_guard" using (\$1+0.5):7 skip 1 with linespoints pt 7 ps 0.5 lc rgb "#4477aa" title "guard", \
     "$b_full" using (\$1+0.5):7 skip 1 with linespoints pt 6 ps 0.5 lc rgb "#aa3377" title "guard, guard-fill 100"
unset multiplot
EOF
}

report() {
	local m crowd d reaction reaction_goal ok rows=() failed_manual= failed_guard= drops_manual= drops_guard=
	pct() { awk -v a="$1" -v n="$2" 'BEGIN { if (n) printf "%.1f %%", 100 * a / n; else print "-" }'; }
	for m in "${MODES[@]}"; do
		read -r -a crowd <<<"$(phase "$m" "${T_FLOOD[$m]}" "$FS_SECS")"
		d=$(drops_between "$m" "${T_FLOOD[$m]}" "$FS_SECS")
		rows+=("| $m | ${crowd[0]} | ${crowd[2]} | $(pct "${crowd[1]}" "${crowd[0]}") | ${crowd[3]} ms | $d | ${PORT80[$m]} |")
		if [ "$m" = manual ]; then failed_manual=${crowd[2]} drops_manual=$d; fi
		if [ "$m" = guard ]; then failed_guard=${crowd[2]} drops_guard=$d; fi
	done
	frag "## 3. Flash sale: nothing done, manual attach, the guard" ""
	frag "The server namespace (conntrack on, nginx on port 80) first holds ${FILLED[none]} established" \
		"entries of other clients (ctfill, port 443): $FS_START_PCT % of \`nf_conntrack_max\`, lowered" \
		"to $FS_CT_MAX for this part, so below the guard's $FS_GUARD_FILL %. Real clients" \
		"(\`bench/httpload clients\`) request port 80 at $FS_RATE requests/s on new connections" \
		"throughout, each giving up after $FS_TIMEOUT_MS ms. At ${T_FLOOD[none]} s a crowd" \
		"(\`httpload flood\`) opens $FS_FLOOD keep-alive connections to port 80 at $FS_FLOOD_RATE/s and" \
		"holds them, as browsers do: ESTABLISHED entries, which the kernel never early-drops, so the" \
		"table goes past the max. The same sale runs three times in one lab: nothing done; \`ctbypass" \
		"attach --ports 80\` at ${T_ACT[manual]} s (returned at ${T_ACTED[manual]} s); and" \
		"\`ctbypass daemon\` with \`guard-ports = 80\` and nothing configured, which bypassed port 80 by" \
		"itself at ${T_ACT[guard]} s; a fourth run sets \`guard-fill = 100\` so that it acts only on" \
		"a full table, which times its reaction from the kernel's first drop. All traffic stays in" \
		"the lab." ""
	frag "| run | requests from the crowd's start | failed | success | p99 latency | conntrack drops | port-80 entries at the end |" \
		"|---|---:|---:|---:|---:|---:|---:|" "${rows[@]}" ""
	# The reaction: from the kernel's first drop (guard_full acts on a full table),
	# and for the default level, from the crossing (it acts before any drop).
	reaction=-1
	if [ -n "${GUARD_DROP[guard_full]}" ]; then
		reaction=$(awk -v d="${GUARD_DROP[guard_full]}" -v g="${GUARD_AT[guard_full]}" \
			'BEGIN { printf "%.0f", 1000 * (g - d) }')
	fi
	reaction_goal="$reaction ms from the kernel's first drop to the bypass in place (guard-fill 100); at guard-fill $FS_GUARD_FILL: in place $(awk -v c="${GUARD_CROSS[guard]}" -v g="${GUARD_AT[guard]}" 'BEGIN { printf "%.0f", 1000 * (g - c) }') ms after the table crossed $FS_GUARD_FILL %, ${GUARD_DROP[guard]:+after a drop at ${GUARD_DROP[guard]} s}${GUARD_DROP[guard]:-before any drop}"
	for m in guard guard_full; do
		frag "The guard at guard-fill ${GUARD_LEVEL[$m]} %, timed by a 5 ms poller inside the namespace:" \
			"the table crossed ${GUARD_LEVEL[$m]} % at ${GUARD_CROSS[$m]:-?} s, the first conntrack drop" \
			"was at ${GUARD_DROP[$m]:-never} s, the bypass was in place (its record written) at" \
			"${GUARD_AT[$m]} s. The daemon's line: \`${GUARD_LINE[$m]}\` (${GUARD_LOG_MS[$m]} ms from" \
			"its sample to the bypass in place; it samples every 100 ms)." ""
	done
	frag "Requests are counted by the second they started in, from the crowd's start to the end." \
		"Clients: none ${CLIENTS[none]}; manual ${CLIENTS[manual]}; guard ${CLIENTS[guard]};" \
		"guard-fill 100 ${CLIENTS[guard_full]}." \
		"Crowd: ${FLOODED[guard]}." ""
	frag "![flash sale](flash_sale.png)" "" \
		"Data per run (none, manual, guard, guard_full): \`flash_sale_RUN_buckets.csv\` (1 s buckets)," \
		"\`flash_sale_RUN_requests.csv\` (every request), \`flash_sale_RUN_samples.csv\` (entries and" \
		"conntrack counters each second)."
	ok=met
	awk -v r="$reaction" 'BEGIN { exit !(r >= 0 && r <= 1000) }' || ok="**not met**"
	goal "flash sale, guard: the bypass within 1 s of the first drop (stretch 250 ms)" \
		"$reaction_goal" "$ok"
	ok=met
	[ "$((failed_guard * 10))" -le "$failed_manual" ] || ok="**not met**"
	goal "flash sale, guard: failed requests at most 10 % of the manual attach's" \
		"$failed_guard failed, $drops_guard drops (manual attach: $failed_manual failed, $drops_manual drops)" "$ok"
	read -r -a crowd <<<"$(phase manual "${T_ACTED[manual]}" "$FS_SECS")"
	d=$((DROP_END[manual] - DROP_ACT[manual]))
	ok=met
	[ "$d" -eq 0 ] && [ "${crowd[2]}" -eq 0 ] && [ "${crowd[0]}" -gt 0 ] || ok="**not met**"
	goal "flash sale, once attached by hand: 0 conntrack drops, 0 failed requests (port 80)" \
		"$d drops, ${crowd[2]} of ${crowd[0]} failed" "$ok"
	read -r -a crowd <<<"$(phase none "${T_FLOOD[none]}" "$FS_SECS")"
	if [ "${crowd[2]}" -eq 0 ]; then
		goal "flash sale reproduces the failure without ctbypass" "${crowd[2]} failed" "**not met**"
	fi
}

bench_lab
lower_ct_max "$FS_CT_MAX" || bench_die "cannot lower nf_conntrack_max to $FS_CT_MAX"
for m in "${MODES[@]}"; do
	run_sale "$m"
	buckets "$m"
done
figure || bench_die "gnuplot failed"
report
bench_done
