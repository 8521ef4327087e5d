#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Part 2: new connections per second through veth into nginx, under five
# configurations of the server namespace, and (c)-(e) again with 1,000
# bypassed ports. Each configuration has its own pair of namespaces, set up
# once; then, for each repetition, every configuration in turn gets a wrk run
# of BENCH_SECS (every request on a new connection, Connection: close).
# Claims are ratios within one run.
#
#   ceiling   no rule that needs conntrack: the namespace tracks nothing
#   tracked   the lab's filter rule (ct state invalid counter): everything tracked
#   iptables  tracked + the seeds' raw-table NOTRACK rules (iptables-nft)
#   nftset    tracked + one nftables set: raw prerouting dport / output sport notrack
#   nftset_tc nftset + an empty TC ingress program attached as ctbypass attaches
#             its classifier: what the TC hook itself costs (1 port only)
#   ctbypass  tracked + ctbypass attach --ports
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init conn_rate
need_cmd iptables-nft-restore taskset

# 1,000 ports: 999 others first and 80 last, so for iptables port 80 sits in
# the last multiport rule of each group (the order is the only thing we choose).
# shellcheck disable=SC2034 # read as "PORTS_$n"
PORTS_1=80
PORTS_1000="20001-20999,80"
RAW=$BENCH_OUT/conn_rate_raw.csv
SUM=$BENCH_OUT/conn_rate.csv
TMP=$_CTBT_TMP

port_list() { # the ports of a PORTS_* value, one a line, in order
	tr ',' '\n' <<<"$1" | awk -F- 'NF == 2 { for (p = $1; p <= $2; p++) print p; next } { print }'
}

# The configurations, called as "cfg_$name PORTS".
# shellcheck disable=SC2317
cfg_ceiling() { :; }
# The same as ceiling, run apart from it: the A/A control. Its ratio to the
# ceiling is how far two identical configurations differ on this machine.
# shellcheck disable=SC2317
cfg_ceiling_again() { :; }
# shellcheck disable=SC2317
cfg_tracked() { ct_on; }

# The seeds' rules (shared/seeds 003): for one port their `-m tcp` form,
# PREROUTING --dport, OUTPUT --sport, PREROUTING --sport, OUTPUT --dport; for
# more, their multiport form in their order (PREROUTING --dport, PREROUTING
# --sport, OUTPUT --dports, OUTPUT --sports), 15 ports a rule as multiport allows.
# No UNTRACKED accept rule: the lab's filter chain accepts everything.
iptables_rules() {
	local ports=$1 groups
	echo "*raw"
	if [ "$ports" = 80 ]; then
		echo "-A PREROUTING -p tcp -m tcp --dport 80 -j NOTRACK"
		echo "-A OUTPUT -p tcp -m tcp --sport 80 -j NOTRACK"
		echo "-A PREROUTING -p tcp -m tcp --sport 80 -j NOTRACK"
		echo "-A OUTPUT -p tcp -m tcp --dport 80 -j NOTRACK"
	else
		groups=$(port_list "$ports" | paste -sd, | awk -F, '{
			for (i = 1; i <= NF; i += 15) {
				g = $i
				for (j = i + 1; j < i + 15 && j <= NF; j++) g = g "," $j
				print g
			} }')
		awk -v g="$groups" 'BEGIN {
			n = split(g, grp, "\n")
			split("PREROUTING dports,PREROUTING sports,OUTPUT dports,OUTPUT sports", kind, ",")
			for (k = 1; k <= 4; k++) {
				split(kind[k], ck, " ")
				for (i = 1; i <= n; i++)
					printf "-A %s -p tcp -m multiport --%s %s -j NOTRACK\n", ck[1], ck[2], grp[i]
			} }'
	fi
	echo "COMMIT"
}

# shellcheck disable=SC2317
cfg_iptables() {
	ct_on || return 1
	iptables_rules "$1" >"$TMP/rules.v4"
	in_ns "$SRV_NS" iptables-nft-restore --noflush "$TMP/rules.v4"
}

# shellcheck disable=SC2317
cfg_nftset() {
	ct_on || return 1
	in_ns "$SRV_NS" nft -f - <<EOF
table inet bench_notrack {
	set ports { type inet_service; elements = { $(port_list "$1" | paste -sd,) } }
	chain prerouting {
		type filter hook prerouting priority raw; policy accept;
		tcp dport @ports notrack
	}
	chain output {
		type filter hook output priority raw; policy accept;
		tcp sport @ports notrack
	}
}
EOF
}

# The TC hook ctbypass's design needs, with nothing to do: clsact, and an empty
# program in direct-action mode at priority 1 (bpf/empty.bpf.c).
# shellcheck disable=SC2317
cfg_nftset_tc() {
	cfg_nftset "$1" &&
		in_ns "$SRV_NS" tc qdisc add dev "$SRV_DEV" clsact &&
		in_ns "$SRV_NS" tc filter add dev "$SRV_DEV" ingress prio 1 bpf da \
			obj "$ROOT/build/bpf/empty.bpf.o" sec tc
}

# shellcheck disable=SC2317
cfg_ctbypass() {
	ct_on && "$CTBYPASS" -n "$SRV_NS" attach --ports "$1" >/dev/null
}

# setup: every configuration in a pair of namespaces of its own, configured once.
setup() {
	local c cfg ports
	for c in "${CONFIGS[@]}"; do
		cfg=${c%:*}
		ports=PORTS_${c#*:}
		bench_pair "$c"
		"cfg_$cfg" "${!ports}" >"$TMP/cfg.out" 2>&1 ||
			bench_die "could not set up $cfg with ports ${!ports}: $(head -c 300 "$TMP/cfg.out")"
		[ "$cfg" = ctbypass ] && lab_on_down "$CTBYPASS" -n "$SRV_NS" detach
		curl_ok "$CLI_NS" "$URL" || bench_die "$cfg with ports ${!ports}: nginx did not answer"
		in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	done
}

# run_one REP NAME: one measurement of configuration NAME ("cfg:ports"),
# appended to $RAW. Holds the nf_conntrack_max lock (in a subshell, so it is
# let go at the end) so that no test lowers the global max under a tracked
# run; the namespace's table is emptied after it, so tracked runs start
# alike and leave nothing in conntrack's (global) hash table.
run_one() {
	(
		local rep=$1 name=$2 ports n d0 max rps req err entries
		ports=PORTS_${name#*:}
		n=$(port_list "${!ports}" | wc -l)
		use_pair "$name"
		hold_ct_max 300 >/dev/null 2>&1 || exit 3
		d0=$(ct_stat "$SRV_NS" drop)
		max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
		read -r rps req err < <(wrk_run "$TMP/wrk.out")
		[ "${req:-0}" -gt 0 ] || exit 4
		entries=$(ct_count "$SRV_NS")
		echo "$rep,${name%:*},$n,$rps,$req,$err,$entries,$(($(ct_stat "$SRV_NS" drop) - d0)),$max" >>"$RAW"
		in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
		exit 0
	)
	run_status $? "$2" "$TMP/wrk.out"
}

# BENCH_CONFIGS="ceiling:1 ctbypass:1" narrows a run while investigating.
# shellcheck disable=SC2206 # split on blanks, on purpose
CONFIGS=(${BENCH_CONFIGS:-ceiling:1 tracked:1 iptables:1 nftset:1 nftset_tc:1 ctbypass:1 ceiling_again:1
	iptables:1000 nftset:1000 ctbypass:1000})

measure() {
	local rep i k
	echo "rep,config,ports,conn_per_s,requests,errors,entries_after,ct_drops,ct_max" >"$RAW"
	for ((rep = 1; rep <= BENCH_REPS; rep++)); do
		echo "  repetition $rep/$BENCH_REPS" >&2
		# Rotate the order each repetition, so no configuration always runs first.
		for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
			i=$(((k + rep - 1) % ${#CONFIGS[@]}))
			run_one "$rep" "${CONFIGS[i]}"
		done
	done
}

# Per configuration: median conn/s, min, max, and the median over repetitions
# of its ratio to the ceiling and to the seeds' rules measured in the same one.
summarize() {
	awk -F, '
		NR == 1 { next }
		{ key = $2 "," $3; r[key, $1] = $4; if (!(key in seen)) { seen[key] = 1; keys[++n] = key }
		  reps[$1] = 1 }
		function med(a, m,   i, j, t) {
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
		}
		END {
			print "config,ports,median_conn_per_s,min,max,ratio_to_ceiling,ratio_to_iptables"
			for (k = 1; k <= n; k++) {
				split(keys[k], kp, ",")
				m = 0; mc = 0; mi = 0; lo = ""; hi = ""
				for (rep in reps) {
					v = r[keys[k], rep]
					if (v == "") continue
					x[++m] = v
					if (lo == "" || v < lo) lo = v
					if (hi == "" || v > hi) hi = v
					c = r["ceiling,1", rep]; if (c > 0) cr[++mc] = v / c
					ip = r["iptables," kp[2], rep]; if (ip > 0) ir[++mi] = v / ip
				}
				printf "%s,%s,%.0f,%s,%s,%.3f,%s\n", kp[1], kp[2], med(x, m), lo, hi,
					med(cr, mc), (kp[1] == "ceiling" || kp[1] == "tracked" || !mi) ? "" : sprintf("%.3f", med(ir, mi))
				delete x; delete cr; delete ir
			}
		}' "$RAW" >"$SUM"
}

field() { # field CONFIG PORTS COLUMN: from the summary
	awk -F, -v c="$1" -v p="$2" -v col="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$1 == c && $2 == p { print $h[col] }' "$SUM"
}

figure() {
	awk -F, 'NR > 1 { printf "%d \"%s\\n%s port%s\" %s %s %s\n", NR - 2, $1, $2, $2 == 1 ? "" : "s", $3, $4, $5 }' \
		"$SUM" >"$TMP/bars.dat"
	plot <<EOF
set terminal pngcairo size 1000,540 font "DejaVu Sans,10" noenhanced
set bmargin 4
set output "$BENCH_OUT/conn_rate.png"
set title "New HTTP connections per second into nginx (median of $BENCH_REPS interleaved ${BENCH_SECS} s wrk runs; bars: min-max)"
set ylabel "connections/s"
set yrange [0:*]
set style fill solid 0.6 border -1
set boxwidth 0.6
set grid ytics
set xtics nomirror font ",9"
unset key
plot "$TMP/bars.dat" using 1:3:xtic(2) with boxes lc rgb "#4477aa", \
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0, \
     "" using 1:3:(sprintf("%.0f", \$3)) with labels offset 0,1.2 font ",9"
EOF
}

report() {
	local c1 i1 n r
	frag "## 2. Connection rate through veth into nginx" ""
	frag "wrk $BENCH_THREADS threads, $BENCH_CONNS connections, ${BENCH_SECS} s a run, \`Connection: close\`" \
		"(every request a new TCP connection), from the client namespace to nginx (1 worker) in" \
		"the server namespace over veth, IPv4. Each of the ${#CONFIGS[@]} configurations has its own pair of" \
		"namespaces, set up once before the runs and removed after them; $BENCH_REPS repetitions, in" \
		"each every configuration gets one run, one after the other, the order rotated by one each" \
		"repetition. (Setting each configuration up and tearing it down around its run took longer" \
		"than the run here, and the load of others on this shared machine changes within seconds:" \
		"runs to be compared have to follow each other closely.) The measured namespace's conntrack" \
		"table is emptied after each run. $([ "$BENCH_PIN" = 1 ] &&
			echo "wrk is pinned to CPU 0 and nginx to CPU 1 (taskset)." ||
			echo "wrk and nginx are not pinned: the scheduler places them on the 2 CPUs.")" \
		"Ratios are the median over repetitions of the ratio within a repetition." ""
	frag "- **ceiling**: the server namespace has no rule that needs conntrack, so it tracks nothing." \
		"- **tracked**: one nftables filter rule (\`ct state invalid counter\`) activates conntrack;" \
		"  every connection is tracked. (c)-(e) add their rules on top of it." \
		"- **iptables**: the seeds' raw-table NOTRACK rules with \`$(iptables-nft -V)\`," \
		"  both directions. 1 port: the seeds' one-port form (\`-m tcp --dport 80\` / \`--sport 80\`," \
		"  4 rules). 1,000 ports (80 and 20001-20999): their multiport form, 15 ports a rule," \
		"  $(iptables_rules "$PORTS_1000" | grep -c -- '^-A') rules, in the seeds' order (PREROUTING" \
		"  --dports, PREROUTING --sports, OUTPUT --dports, OUTPUT --sports) with port 80 in the last" \
		"  rule of each group: an arriving SYN passes 66 rules before its match, a reply from" \
		"  port 80 passes 133. No UNTRACKED accept rule: the lab's filter accepts everything." \
		"- **nftset**: one table, \`tcp dport @ports notrack\` at raw prerouting and" \
		"  \`tcp sport @ports notrack\` at raw output, ports in one set." \
		"- **nftset_tc**: nftset plus the TC hook ctbypass needs, doing nothing: a clsact qdisc and" \
		"  an empty program (\`bpf/empty.bpf.c\`) at ingress priority 1 in direct-action mode." \
		"- **ctbypass**: \`ctbypass -n NS attach --ports 80\` (or \`--ports 20001-20999,80\`)." ""
	frag "| configuration | ports | conn/s (median) | min-max | vs ceiling | vs iptables (same ports) |" \
		"|---|---:|---:|---:|---:|---:|"
	awk -F, 'NR > 1 { printf "| %s | %s | %s | %s-%s | %.3f | %s |\n", $1, $2, $3, $4, $5, $6, $7 == "" ? "" : $7 }' \
		"$SUM" >>"$BENCH_FRAG/$BENCH_PART.md"
	r=$(field ceiling_again 1 ratio_to_ceiling)
	[ -n "$r" ] && frag "" "**ceiling_again** is the ceiling configuration run a second time in each repetition," \
		"apart from the first: an A/A control. Its ratio to the ceiling, $r, and the min-max" \
		"spreads show how far identical runs differ on this machine; differences between" \
		"configurations smaller than that are not resolved by this run."
	frag "" "![connection rate](conn_rate.png)" "" \
		"Raw runs: \`conn_rate_raw.csv\` (also wrk errors, conntrack entries left after the run" \
		"and conntrack drops during it, for each run); summary: \`conn_rate.csv\`."
	r=$(awk -F, 'NR > 1 && $6 > 0 { e += $6 } END { print e + 0 }' "$RAW")
	[ "$r" -gt 0 ] && frag "" "wrk reported $r socket errors or non-2xx answers in total (see the raw CSV)."
	r=$(awk -F, 'NR > 1 && ($2 == "ctbypass" || $2 == "iptables" || $2 ~ /^nftset/) { e += $7 }
		END { print e + 0 }' "$RAW")
	frag "" "Conntrack entries left after the bypass configurations' runs, all runs together: $r" \
		"(0 means no connection of the load was tracked)."

	r=$(field nftset_tc 1 ratio_to_ceiling)
	if [ -n "$r" ]; then
		frag "" "**Where ctbypass's cost goes** (1 port, ratios to the ceiling): one nftables set" \
			"reaches $(field nftset 1 ratio_to_ceiling); the same with an empty program on the TC" \
			"ingress hook, $r; ctbypass, $(field ctbypass 1 ratio_to_ceiling). The first step is the price" \
			"of the hook alone, which this design needs to mark arrivals; the second is ctbypass's own" \
			"work beyond it (the classifier's lookup and mark, the \`fib\` locality check, counters)."
	fi
	for n in 1 1000; do
		c1=$(field ctbypass "$n" ratio_to_ceiling)
		i1=$(field ctbypass "$n" ratio_to_iptables)
		goal "conn rate, $n port(s): ctbypass >= 0.95 x ceiling" "$c1 x" "$(ge "$c1" 0.95)"
		goal "conn rate, $n port(s): ctbypass >= seeds' iptables rules" "$i1 x" "$(ge "$i1" 1.0)"
	done
}

setup
measure
summarize
figure || bench_die "gnuplot failed"
report
bench_done
