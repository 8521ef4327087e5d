#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Part 8: the daemon's footprint and its /metrics scrape latency, for two
# configurations side by side in one lab, each daemon in its own namespace:
# - typical: ports = 80;
# - large: ports = 1-65535 and 1,000 upstreams (the issue's worst case).
# For each: RSS (VmRSS, after the first looks), idle CPU (utime + stime over
# IDLE_SECS, in two halves: their difference is the run's own noise, an A/A),
# and the latency of scrapes (each on a new connection, connect to last byte,
# from a Python client in the namespace), in batches alternating between the
# configurations: typical, large, typical, large. The two batches of one
# configuration are its A/A control.
# Goals (issue 14): RSS < 10 MB, idle CPU < 0.5 %, scrape p99 < 10 ms with 65,535
# ports and 1,000 upstreams.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init metrics
need_cmd "$CTBYPASS" python3

: "${IDLE_SECS:=60}"
: "${SCRAPES:=500}"
CSV=$BENCH_OUT/metrics.csv
TMP=$_CTBT_TMP
CLIENT=$BENCH_DIR/scrape_latency.py
declare -A NS PID

# ns_up NAME: a namespace with a veth pair (an interface for the classifier).
ns_up() {
	local ns=ctbt-$$-$1
	_CTBT_NS+=("$ns")
	ip netns add "$ns" && ip -n "$ns" link set lo up &&
		ip -n "$ns" link add "m$1" type veth peer name "m$1p" &&
		ip -n "$ns" link set "m$1" up && ip -n "$ns" link set "m$1p" up ||
		bench_die "cannot create namespace $ns"
	lab_conntrack_on "$ns"
	NS[$1]=$ns
}

daemon_up() { # NAME CONFIG
	local name=$1
	ns_up "$name"
	(_ctbt_spawn "$CTBYPASS" -n "${NS[$name]}" daemon --config "$2" --force) \
		>"$TMP/$name.log" 2>&1 &
	PID[$name]=$!
	lab_track_pid "${PID[$name]}"
	wait_until 120 grep -q "running (pid ${PID[$name]})" "$TMP/$name.log" ||
		bench_die "the $name daemon did not start: $(tail -n 2 "$TMP/$name.log")"
}

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# idle NAME: CPU percent of one core in each half of IDLE_SECS: "first second".
idle() {
	local pid=${PID[$1]} t0 t1 t2 hz half=$((IDLE_SECS / 2))
	hz=$(getconf CLK_TCK)
	t0=$(ticks "$pid")
	sleep "$half"
	t1=$(ticks "$pid")
	sleep "$half"
	t2=$(ticks "$pid")
	awk -v a=$((t1 - t0)) -v b=$((t2 - t1)) -v hz="$hz" -v s="$half" \
		'BEGIN { printf "%.3f %.3f\n", 100 * a / hz / s, 100 * b / hz / s }'
}

# batch NAME N: appends "name,batch,ms" lines.
batch() {
	ip netns exec "${NS[$1]}" python3 "$CLIENT" 127.0.0.1 10127 "$SCRAPES" >"$TMP/lat" ||
		bench_die "scrapes of the $1 daemon failed"
	awk -v n="$1" -v b="$2" '{ print n "," b "," $1 }' "$TMP/lat" >>"$CSV"
}

# pct NAME BATCH P: the P-th percentile (nearest rank) of a batch, or of both with BATCH=all.
pct() {
	awk -F, -v n="$1" -v b="$2" 'NR > 1 && $1 == n && (b == "all" || $2 == b) { print $3 }' "$CSV" |
		sort -g | awk -v p="$3" '{ v[++n] = $1 } END { i = int(p / 100 * n); if (i < p / 100 * n) i++; if (i < 1) i = 1; printf "%.2f", v[i] }'
}

printf 'ports = 80\n' >"$TMP/typical.conf"
python3 - "$TMP/large.conf" <<'EOF'
import sys
ups = [f"198.19.{i // 250}.{i % 250 + 1}:3128" for i in range(1000)]
with open(sys.argv[1], "w") as f:
    f.write("ports = 1-65535\n")
    for j in range(0, len(ups), 8):
        f.write("upstream = " + ",".join(ups[j:j + 8]) + "\n")
EOF

daemon_up typical "$TMP/typical.conf"
daemon_up large "$TMP/large.conf"
# Both past their first looks (start, the first verify) before anything is measured.
sleep 15
echo "name,batch,ms" >"$CSV"
declare -A RSS CPU
for n in typical large; do
	RSS[$n]=$(rss_kb "${PID[$n]}")
done
# Idle CPU: one daemon at a time, the other idle too (both always run).
for n in typical large; do
	CPU[$n]=$(idle "$n")
done
for b in 1 2; do
	batch typical "$b"
	batch large "$b"
done
for n in typical large; do
	kill -0 "${PID[$n]}" 2>/dev/null || bench_die "the $n daemon died"
	RSS[$n]="${RSS[$n]} / $(rss_kb "${PID[$n]}")"
done

frag "## 8. Daemon footprint and scrape latency" ""
frag "Two \`ctbypass daemon\`s, each in its own namespace with one veth pair, both running" \
	"throughout: **typical** (\`ports = 80\`) and **large** (\`ports = 1-65535\` and 1,000" \
	"upstreams). Defaults otherwise: a metrics sample every 5 s, a verify every 10 s, the" \
	"preflight every 30 s. RSS is VmRSS 15 s after start, then after the scrapes. Idle" \
	"CPU is utime + stime over two consecutive $((IDLE_SECS / 2)) s windows, in percent of" \
	"one core; the two windows differ by the run's own noise. Latency: $SCRAPES scrapes per" \
	"batch, each on a new connection (connect to last byte, Python's http.client in the" \
	"namespace, so interpreter overhead is included), batches alternating typical, large," \
	"typical, large; batch 1 against batch 2 of one configuration is the A/A control." ""
frag "| configuration | RSS kB (start / end) | idle CPU % (window 1 / 2) | p50 ms (b1 / b2) | p99 ms (b1 / b2) | p99 ms all |" \
	"|---|---:|---:|---:|---:|---:|"
for n in typical large; do
	read -r c1 c2 <<<"${CPU[$n]}"
	frag "| $n | ${RSS[$n]} | $c1 / $c2 | $(pct $n 1 50) / $(pct $n 2 50) | $(pct $n 1 99) / $(pct $n 2 99) | $(pct $n all 99) |"
done
read -r tc1 tc2 <<<"${CPU[typical]}"
read -r lc1 lc2 <<<"${CPU[large]}"
rss_t=${RSS[typical]%% *}
rss_l=${RSS[large]%% *}
p99_l=$(pct large all 99)
p99_t=$(pct typical all 99)
frag "" "p99 large / typical: $(awk -v a="$p99_l" -v b="$p99_t" 'BEGIN { printf "%.2f", a / b }')" \
	"(A/A: typical batch 2 / batch 1 $(awk -v a="$(pct typical 2 99)" -v b="$(pct typical 1 99)" 'BEGIN { printf "%.2f", a / b }'))." \
	"" "Data: \`metrics.csv\`."
goal "daemon RSS < 10 MB (typical / large config)" "$rss_t kB / $rss_l kB" \
	"$(awk -v a="$rss_t" 'BEGIN { print (a < 10240) ? "met (typical)" : "**not met**" }')"
goal "daemon idle CPU < 0.5 % (typical / large config)" "$tc1-$tc2 % / $lc1-$lc2 %" \
	"$(awk -v a="$tc1" -v b="$tc2" 'BEGIN { print (a < 0.5 && b < 0.5) ? "met (typical)" : "**not met**" }')"
goal "scrape p99 < 10 ms with 65,535 ports and 1,000 upstreams" "$p99_l ms" \
	"$(awk -v a="$p99_l" 'BEGIN { print (a < 10) ? "met" : "**not met**" }')"
bench_done
