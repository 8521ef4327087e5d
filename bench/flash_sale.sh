#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Part 3: the seeds' flash sale, reproduced and then fixed mid-run. The server
# namespace's table already holds established entries of other clients (ctfill,
# port 443) up to FS_HEADROOM below the host's nf_conntrack_max, which stays as
# it is; real clients request port 80 at a fixed pace throughout; at
# FS_FLOOD_AT a crowd of keep-alive visitors opens FS_FLOOD connections to
# port 80 and holds them, pushing the table past the max; at FS_ATTACH_AT
# `ctbypass attach --ports 80` runs. Sampled in 1 s buckets.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init flash_sale
need_cmd "$HTTPLOAD" "$CTFILL" gnuplot

: "${FS_SECS:=40}"
: "${FS_FLOOD_AT:=5}"
: "${FS_ATTACH_AT:=20}"
: "${FS_RATE:=100}"        # real clients' requests a second
: "${FS_TIMEOUT_MS:=1000}" # a request that takes longer has failed
: "${FS_FLOOD:=800}"       # the crowd's held connections
: "${FS_FLOOD_RATE:=200}"  # how fast they arrive
: "${FS_HEADROOM:=1000}"   # free entries when the sale starts
REQS=$BENCH_OUT/flash_sale_requests.csv
SAMPLES=$BENCH_OUT/flash_sale_samples.csv
BUCKETS=$BENCH_OUT/flash_sale.csv
TMP=$_CTBT_TMP

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

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

# sleep_until T0 S: until S seconds after T0. In the background, so Ctrl-C's
# trap runs at once rather than after the sleep.
sleep_until() {
	sleep "$(awk -v t0="$1" -v s="$2" -v t="$(now)" 'BEGIN { d = t0 + s - t; print (d > 0 ? d : 0) }')" &
	wait $!
}

run_sale() {
	local max n t0 clients sampler_pid flood
	# The host's own max, kept so by its lock while we fill to it (as the demo does).
	hold_ct_max 120 || bench_die "a test kept nf_conntrack_max lowered for 2 minutes"
	max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
	ct_on
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	n=$((max - FS_HEADROOM))
	"$CTFILL" -n "$SRV_NS" --count "$n" --dport 443 --timeout 600 >"$TMP/fill.out" 2>&1
	[ "$(ct_count "$SRV_NS")" -ge "$n" ] ||
		bench_die "ctfill: $(ct_count "$SRV_NS") of $n entries ($(head -c 200 "$TMP/fill.out"))"
	FS_MAX=$max
	FS_FILLED=$(ct_count "$SRV_NS")

	t0=$(now)
	sampler "$t0" >"$SAMPLES" &
	sampler_pid=$!
	lab_track_pid "$sampler_pid"
	in_ns "$CLI_NS" "$HTTPLOAD" clients --to "$SRV_IP4" --port 80 --rate "$FS_RATE" \
		--duration "$FS_SECS" --timeout-ms "$FS_TIMEOUT_MS" >"$TMP/requests.raw" \
		2>"$TMP/clients.err" &
	clients=$!
	lab_track_pid "$clients"

	sleep_until "$t0" "$FS_FLOOD_AT"
	FS_T_FLOOD=$(since "$t0" "$(now)")
	in_ns "$CLI_NS" "$HTTPLOAD" flood --to "$SRV_IP4" --port 80 --rate "$FS_FLOOD_RATE" \
		--count "$FS_FLOOD" --duration $((FS_SECS - FS_FLOOD_AT)) 2>"$TMP/flood.err" &
	flood=$!
	lab_track_pid "$flood"

	sleep_until "$t0" "$FS_ATTACH_AT"
	FS_T_ATTACH=$(since "$t0" "$(now)")
	"$CTBYPASS" -n "$SRV_NS" attach --ports 80 >"$TMP/attach.out" 2>&1 ||
		bench_die "ctbypass attach failed: $(head -c 300 "$TMP/attach.out")"
	FS_T_ATTACHED=$(since "$t0" "$(now)")
	FS_DROP_ATTACHED=$(ct_stat "$SRV_NS" drop)

	wait "$clients" || bench_die "httpload clients failed: $(cat "$TMP/clients.err")"
	wait "$flood"
	FS_DROP_END=$(ct_stat "$SRV_NS" drop)
	wait "$sampler_pid"
	FS_CLIENTS=$(sed -n 's/^httpload: //p' "$TMP/clients.err")
	FS_FLOODED=$(sed -n 's/^httpload: //p' "$TMP/flood.err")
	FS_PORT80=$(ct_entries "$SRV_NS" -p tcp --orig-port-dst 80)
	"$CTBYPASS" -n "$SRV_NS" detach >/dev/null 2>&1
	# Requests against the sampler's clock: seconds since t0.
	awk -F, -v t0="$t0" 'NR == 1 { print "t,latency_ms,result"; next }
		{ printf "%.3f,%s,%s\n", $1 - t0, $2, $3 }' "$TMP/requests.raw" >"$REQS"
}

# 1 s buckets by request start: requests, ok, failed, success %, p99 latency
# (a failed request counts with the latency at which it gave up), drops/s, entries.
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
		}' "$REQS" "$SAMPLES" >"$BUCKETS"
}

# phase FROM TO: "requests ok failed p99" of requests started in [FROM, TO).
phase() {
	awk -F, -v a="$1" -v b="$2" 'NR > 1 && $1 >= a && $1 < b {
			n++; if ($3 == "ok") ok++; v[n] = $2 }
		END {
			for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
			k = int(0.99 * n); if (k < 0.99 * n) k++
			printf "%d %d %d %s\n", n, ok, n - ok, n ? v[k] : "-"
		}' "$REQS"
}

# drops_between FROM TO: conntrack drops between the samples nearest FROM and TO.
drops_between() {
	awk -F, -v a="$1" -v b="$2" 'NR > 1 {
			if (da == "" && $1 >= a) da = $3
			if ($1 <= b) db = $3 }
		END { print (da == "" || db == "") ? 0 : db - da }' "$SAMPLES"
}

figure() {
	plot <<EOF
set terminal pngcairo size 1000,900 font "DejaVu Sans,10" noenhanced
set output "$BENCH_OUT/flash_sale.png"
set datafile separator ","
set multiplot layout 4,1 title "Flash sale: conntrack table past the max, then ctbypass attached (port 80), 1 s buckets"
set xrange [0:$FS_SECS]
set grid
set lmargin 12
set key center right opaque box
set arrow 1 from $FS_T_ATTACH, graph 0 to $FS_T_ATTACH, graph 1 nohead lw 2 lc rgb "#228833" dt 2
set arrow 2 from $FS_T_FLOOD, graph 0 to $FS_T_FLOOD, graph 1 nohead lw 1 lc rgb "#aa3377" dt 3
set label 1 "ctbypass attach" at $FS_T_ATTACH, graph 0.85 offset 0.5,0 tc rgb "#228833"
set label 2 "flood starts" at $FS_T_FLOOD, graph 0.85 offset 0.5,0 tc rgb "#aa3377"
set format x ""
set ylabel "entries"
set format y "%.0f"
plot "$SAMPLES" using 1:2 skip 1 with linespoints pt 7 ps 0.5 lc rgb "#4477aa" title "conntrack entries", \
     $FS_MAX with lines lc rgb "black" dt 2 title "nf_conntrack_max ($FS_MAX)"
unset label 1
unset label 2
set ylabel "drops/s"
set key top right
plot "$BUCKETS" using (\$1+0.5):7 skip 1 with linespoints pt 7 ps 0.5 lc rgb "#ee6677" title "conntrack drops/s"
set ylabel "requests/s"
set key center right
set yrange [0:*]
plot "$BUCKETS" using (\$1+0.5):3 skip 1 with linespoints pt 7 ps 0.5 lc rgb "#228833" title "successful", \
     "$BUCKETS" using (\$1+0.5):4 skip 1 with linespoints pt 7 ps 0.5 lc rgb "#ee6677" title "failed (no answer in $FS_TIMEOUT_MS ms)"
set format x "%g"
set xlabel "seconds"
set ylabel "p99 latency, ms"
set key top right
set logscale y
set format y "%g"
set yrange [*:*]
plot "$BUCKETS" using (\$1+0.5):(\$6 > 0 ? \$6 : 1/0) skip 1 with linespoints pt 7 ps 0.5 lc rgb "#4477aa" title "p99 latency (failed requests count as $FS_TIMEOUT_MS ms)"
unset multiplot
EOF
}

report() {
	local normal full after d_full d_after rate_full rate_after ok
	read -r -a normal <<<"$(phase 0 "$FS_T_FLOOD")"
	read -r -a full <<<"$(phase "$FS_T_FLOOD" "$FS_T_ATTACH")"
	read -r -a after <<<"$(phase "$FS_T_ATTACHED" "$FS_SECS")"
	d_full=$(drops_between "$FS_T_FLOOD" "$FS_T_ATTACH")
	d_after=$((FS_DROP_END - FS_DROP_ATTACHED))
	pct() { awk -v a="$1" -v n="$2" 'BEGIN { if (n) printf "%.1f %%", 100 * a / n; else print "-" }'; }
	rate() { awk -v d="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", d / (b - a) }'; }
	rate_full=$(rate "$d_full" "$FS_T_FLOOD" "$FS_T_ATTACH")
	rate_after=$(rate "$d_after" "$FS_T_ATTACHED" "$FS_SECS")

	frag "## 3. Flash sale: table full, then ctbypass attached mid-run" ""
	frag "The server namespace (conntrack on, nginx on port 80) first holds $FS_FILLED established" \
		"entries of other clients (ctfill, port 443), $FS_HEADROOM below the host's" \
		"\`nf_conntrack_max\` = $FS_MAX, which is not changed. Real clients (\`bench/httpload clients\`)" \
		"request port 80 at $FS_RATE requests/s on new connections throughout, each giving up after" \
		"$FS_TIMEOUT_MS ms. At ${FS_T_FLOOD} s a crowd (\`httpload flood\`) opens $FS_FLOOD keep-alive" \
		"connections to port 80 at $FS_FLOOD_RATE/s and holds them, as browsers do: held connections" \
		"are ESTABLISHED entries, which the kernel never early-drops, so the table goes past the max." \
		"At ${FS_T_ATTACH} s \`ctbypass -n NS attach --ports 80\` runs (it returned at ${FS_T_ATTACHED} s;" \
		"by default it deletes the entries of the now-bypassed port). All traffic stays in the lab." ""
	frag "| phase | requests | failed | success | p99 latency | conntrack drops | drops/s |" \
		"|---|---:|---:|---:|---:|---:|---:|" \
		"| before the flood (0-${FS_T_FLOOD} s) | ${normal[0]} | ${normal[2]} | $(pct "${normal[1]}" "${normal[0]}") | ${normal[3]} ms | $(drops_between 0 "$FS_T_FLOOD") | |" \
		"| table full, no ctbypass (${FS_T_FLOOD}-${FS_T_ATTACH} s) | ${full[0]} | ${full[2]} | $(pct "${full[1]}" "${full[0]}") | ${full[3]} ms | $d_full | $rate_full |" \
		"| ctbypass attached (${FS_T_ATTACHED}-${FS_SECS} s) | ${after[0]} | ${after[2]} | $(pct "${after[1]}" "${after[0]}") | ${after[3]} ms | $d_after | $rate_after |" ""
	frag "Once the table is over 95 % full the kernel's conntrack garbage collector also evicts" \
		"closing connections (the real clients' TIME_WAIT entries), which can show as a dip in" \
		"entries while the table is full; it never evicts established ones, and the crowd refills" \
		"the room at once." ""
	frag "Requests are counted by the second they started in; the attached phase counts only requests" \
		"started after \`attach\` returned, and its drops are the kernel's counter from then to the end." \
		"Clients: $FS_CLIENTS. Crowd: $FS_FLOODED. Conntrack entries for port 80 at the end: $FS_PORT80." ""
	frag "![flash sale](flash_sale.png)" "" \
		"Data: \`flash_sale.csv\` (1 s buckets), \`flash_sale_requests.csv\` (every request)," \
		"\`flash_sale_samples.csv\` (entries and conntrack counters each second)."
	ok=met
	[ "$d_after" -eq 0 ] && [ "${after[2]}" -eq 0 ] && [ "${after[0]}" -gt 0 ] || ok="**not met**"
	goal "flash sale, once attached: 0 conntrack drops, 0 failed requests (port 80)" \
		"$d_after drops, ${after[2]} of ${after[0]} failed (before: $d_full drops, ${full[2]} of ${full[0]} failed)" "$ok"
	if [ "${full[2]}" -eq 0 ] || [ "$d_full" -eq 0 ]; then
		goal "flash sale reproduces the failure without ctbypass" "${full[2]} failed, $d_full drops" "**not met**"
	fi
}

bench_lab
run_sale
buckets
figure || bench_die "gnuplot failed"
report
bench_done
