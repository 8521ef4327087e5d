#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Part 2: new connections per second through veth into nginx, under several
# configurations of the server namespace. Each configuration has its own pair
# of namespaces, set up once; then, for each repetition, every configuration in
# turn gets a wrk run of BENCH_SECS (every request on a new connection,
# Connection: close). Claims are ratios within one repetition, paired over
# repetitions, with a bootstrap confidence interval (bench/paired_ci.awk).
#
#   ceiling          no rule that needs conntrack: the namespace tracks nothing
#   ceiling_again    the same, a second time: the A/A control
#   tracked          the lab's filter rule (ct state invalid counter): everything tracked
#   unrelated        tracked + ctbypass attached for another port (8443): what
#                    traffic ctbypass does not bypass pays for it being there
#   iptables         tracked + the seeds' raw-table NOTRACK rules (iptables-nft)
#   nftset           tracked + one nftables set: raw prerouting dport / output sport notrack
#   nftset_same      tracked + one nftables set with ctbypass's semantics: local
#                    destinations only (fib daddr type local), TCP/UDP by l4proto
#   nftset_same_ctr  nftset_same with ctbypass's counters (rules and set elements)
#   nftset_same_tc   nftset_same + an empty TC ingress program attached as ctbypass
#                    attaches its classifier: what the TC hook itself costs
#   ctbypass         tracked + ctbypass attach --ports
#   ctb_nobackstop   ctbypass without the backstop (classifier, mark rule, output)
#   ctb_nofib        ctbypass without `fib daddr type local` in its rules
#   ctb_noctr        ctbypass without counters (rules and set elements)
# The ctb_* variants are ctbypass's own table, listed and edited with nft.
set -u
# This part's defaults (the other parts keep lib.sh's): 1 s runs and many
# repetitions, about 7 minutes here. Its claims are paired ratios, whose
# interval narrows with the number of repetitions, not with a run's length.
: "${BENCH_REPS:=16}"
: "${BENCH_SECS:=1}"
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
PAIRED=$BENCH_OUT/conn_rate_paired.csv
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

# nftset_same_table PORTS [counter]: ctbypass's semantics in one set: arrivals
# to this host only (`fib daddr type local`, so forwarded traffic stays
# tracked), both directions, TCP or UDP through meta l4proto, the set keyed
# like ctbypass's server_ports. With "counter", also ctbypass's counters: one
# per rule and one per set element.
# shellcheck disable=SC2317
nftset_same_table() {
	local c=${2:+counter }
	cat <<EOF
table inet bench_same {
	set ports {
		type inet_proto . inet_service; ${2:+counter;}
		elements = { $(port_list "$1" | sed 's/^/tcp . /' | paste -sd,) }
	}
	chain prerouting {
		type filter hook prerouting priority raw; policy accept;
		meta l4proto . th dport @ports fib daddr type local ${c}notrack
	}
	chain output {
		type filter hook output priority raw; policy accept;
		meta l4proto . th sport @ports ${c}notrack
	}
}
EOF
}

# shellcheck disable=SC2317
cfg_nftset_same() {
	ct_on && nftset_same_table "$1" | in_ns "$SRV_NS" nft -f -
}

# shellcheck disable=SC2317
cfg_nftset_same_ctr() {
	ct_on && nftset_same_table "$1" counter | in_ns "$SRV_NS" nft -f -
}

# The TC hook ctbypass uses, with nothing to do: an empty program
# (bpf/empty.bpf.c) first on tcx (kernel 6.6 and later), else in direct-action
# mode at priority 1 on clsact.
# shellcheck disable=SC2317
cfg_nftset_same_tc() {
	cfg_nftset_same "$1" || return 1
	if tcx_available; then
		in_ns "$SRV_NS" "$ROOT/build/tools/tcx_tool" front "$SRV_DEV" \
			"$ROOT/build/bpf/empty.bpf.o" >/dev/null
		return
	fi
	in_ns "$SRV_NS" tc qdisc add dev "$SRV_DEV" clsact &&
		in_ns "$SRV_NS" tc filter add dev "$SRV_DEV" ingress prio 1 bpf da \
			obj "$ROOT/build/bpf/empty.bpf.o" sec tc
}

# shellcheck disable=SC2317
cfg_ctbypass() {
	ct_on && "$CTBYPASS" -n "$SRV_NS" attach --ports "$1" >/dev/null
}

# Traffic ctbypass does not bypass, with ctbypass there: attached for another
# port, the load still on port 80. Every arrival passes the classifier (a
# miss), the mark rule and the backstop's lookups; every reply the output chain.
UNRELATED_PORT=8443
# shellcheck disable=SC2317
cfg_unrelated() {
	cfg_ctbypass "$UNRELATED_PORT"
}

# ctb_edit SED_ARGS...: ctbypass's table as nft lists it (without counter
# values), edited by sed, put back in one transaction in place of the original.
# The classifier, its maps and its filters stay as attach left them. An edit
# that changes nothing (the table's rules written differently since) fails,
# rather than measure ctbypass itself under the variant's name.
# shellcheck disable=SC2317
ctb_edit() {
	local t e
	t=$(in_ns "$SRV_NS" nft -s list table inet ctbypass) || return 1
	e=$(sed "$@" <<<"$t")
	if [ "$e" = "$t" ]; then
		echo "ctb_edit: sed $* changed nothing in table inet ctbypass" >&2
		return 1
	fi
	printf 'delete table inet ctbypass\n%s\n' "$e" | in_ns "$SRV_NS" nft -f -
}

# shellcheck disable=SC2317
cfg_ctb_nobackstop() {
	cfg_ctbypass "$1" && ctb_edit '/jump backstop/d'
}

# shellcheck disable=SC2317
cfg_ctb_nofib() {
	cfg_ctbypass "$1" && ctb_edit 's/ fib daddr type local//'
}

# Counters on rules ("counter") and on set elements (the sets' "counter" flag).
# shellcheck disable=SC2317
cfg_ctb_noctr() {
	cfg_ctbypass "$1" && ctb_edit -e 's/ counter//g' -e '/^[[:space:]]*counter$/d'
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
		case $cfg in
		ctbypass | ctb_* | unrelated) lab_on_down "$CTBYPASS" -n "$SRV_NS" detach ;;
		esac
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
# Pairs to be compared run one after the other: the headline's ctbypass right
# after nftset_same, the A/A control's ceiling_again right after ceiling, so
# both ratios are "second / first" at the same distance.
# shellcheck disable=SC2206 # split on blanks, on purpose
CONFIGS=(${BENCH_CONFIGS:-ceiling:1 ceiling_again:1 tracked:1 unrelated:1 iptables:1 nftset:1
	nftset_same:1 ctbypass:1 nftset_same_ctr:1 nftset_same_tc:1 ctb_nobackstop:1 ctb_nofib:1
	ctb_noctr:1 iptables:1000 nftset:1000 ctbypass:1000})

measure() {
	local rep i k t0=$SECONDS
	echo "rep,config,ports,conn_per_s,requests,errors,entries_after,ct_drops,ct_max" >"$RAW"
	for ((rep = 1; rep <= BENCH_REPS; rep++)); do
		echo "  repetition $rep/$BENCH_REPS ($((SECONDS - t0)) s so far)" >&2
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
					med(cr, mc), (kp[1] ~ /^ceiling/ || kp[1] == "tracked" || kp[1] == "unrelated" || !mi) ? "" : sprintf("%.3f", med(ir, mi))
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
set terminal pngcairo size 1400,600 font "DejaVu Sans,10" noenhanced
set bmargin 6
set output "$BENCH_OUT/conn_rate.png"
set title "New HTTP connections per second into nginx (median of $BENCH_REPS interleaved ${BENCH_SECS} s wrk runs; bars: min-max)"
set ylabel "connections/s"
set yrange [0:*]
set style fill solid 0.6 border -1
set boxwidth 0.6
set grid ytics
set xtics nomirror font ",9" rotate by -30
unset key
plot "$TMP/bars.dat" using 1:3:xtic(2) with boxes lc rgb "#4477aa", \
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0, \
     "" using 1:3:(sprintf("%.0f", \$3)) with labels offset 0,1.2 font ",9"
EOF
}

# figure_paired: every paired comparison, its median and 95 % interval.
figure_paired() {
	local n
	awk -F, 'NR > 1 { printf "%d \"%s / %s\" %s %s %s\n", NR - 1, $1, $3, $6, $7, $8 }' \
		"$PAIRED" >"$TMP/paired.dat"
	n=$(wc -l <"$TMP/paired.dat")
	plot <<EOF
set terminal pngcairo size 1000,$((90 + 34 * n)) font "DejaVu Sans,10" noenhanced
set output "$BENCH_OUT/conn_rate_paired.png"
set title "Paired ratios, 1 port: median over $BENCH_REPS repetitions, 95 % bootstrap interval"
set xlabel "ratio of connection rates (below 1: the first costs more)"
set yrange [$n + 0.5:0.5]
set ytics nomirror font ",9"
set grid xtics
set arrow from 1, graph 0 to 1, graph 1 nohead dt 2 lc rgb "black"
unset key
plot "$TMP/paired.dat" using 3:1:4:5:ytic(2) with xerrorbars lc rgb "#4477aa" pt 7
EOF
}

# The paired comparisons, "NUM,PORTS:DEN,PORTS", and what each one measures.
# Each is NUM's conn/s over DEN's within a repetition: below 1, NUM costs more.
HEADLINE="ctbypass,1:nftset_same,1"
AA="ceiling_again,1:ceiling,1"
COMPARE=(
	"$HEADLINE|ctbypass against one nftables set with its semantics"
	"ctbypass,1:nftset_same_ctr,1|ctbypass against the same set with ctbypass's counters"
	"$AA|A/A control: the ceiling against itself"
	"nftset_same,1:nftset,1|the set with ctbypass's semantics (fib locality, l4proto) against the plain one"
	"nftset_same_ctr,1:nftset_same,1|counters (per rule and per set element) on that set"
	"nftset_same_tc,1:nftset_same,1|an empty TC ingress program beside that set"
	"ctb_nobackstop,1:nftset_same_tc,1|ctbypass's classifier and mark rule (and output chain) in place of the set and the empty program"
	"ctbypass,1:ctb_nobackstop,1|ctbypass's backstop chain (the jump to it)"
	"ctbypass,1:ctb_nofib,1|ctbypass's \`fib daddr type local\` checks"
	"ctbypass,1:ctb_noctr,1|ctbypass's counters (per rule and per set element)"
	"unrelated,1:tracked,1|unrelated traffic: tracked, with ctbypass attached for another port, against tracked alone"
)

# paired: every comparison's median ratio and bootstrap interval, to $PAIRED.
paired() {
	local c pairs=
	for c in "${COMPARE[@]}"; do
		pairs+=" ${c%%|*}"
	done
	{
		echo "num,num_ports,den,den_ports,reps,median_ratio,ci95_lo,ci95_hi,resolved"
		awk -F, -v pairs="$pairs" -f "$BENCH_DIR/paired_ci.awk" "$RAW"
	} >"$PAIRED"
}

# ci NUM,PORTS:DEN,PORTS COLUMN: one column of $PAIRED.
ci() {
	local num=${1%%:*} den=${1#*:}
	awk -F, -v n="$num" -v d="$den" -v col="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$1 "," $2 == n && $3 "," $4 == d { print $h[col] }' "$PAIRED"
}

# ci_text PAIR [verdict]: "0.981 [0.962, 1.004]", with "verdict" also
# ", not resolved" when the interval holds 1.0.
ci_text() {
	awk -F, -v n="${1%%:*}" -v d="${1#*:}" -v v="${2:-}" '
		NR > 1 && $1 "," $2 == n && $3 "," $4 == d {
			printf "%.3f [%.3f, %.3f]%s", $6, $7, $8, v != "" && $9 == "no" ? ", not resolved" : "" }' "$PAIRED"
}

# cost_text PAIR: what NUM costs relative to DEN, in % of DEN's rate, or "not resolved".
cost_text() {
	awk -F, -v n="${1%%:*}" -v d="${1#*:}" '
		NR > 1 && $1 "," $2 == n && $3 "," $4 == d {
			if ($9 == "no") print "not resolved"
			else if ($6 < 1) printf "costs %.1f %%", (1 - $6) * 100
			else printf "gains %.1f %%", ($6 - 1) * 100 }' "$PAIRED"
}

# ctb_counters NAME CHAIN: the packets CHAIN of ctbypass's table in NAME's
# server namespace counted, all its rules together.
ctb_counters() {
	use_pair "$1"
	in_ns "$SRV_NS" nft list chain inet ctbypass "$2" 2>/dev/null | awk '
		{ for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) }
		END { print s + 0 }'
}

report() {
	local c1 i1 n r pair what hi
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
			echo "wrk and nginx are not pinned: the scheduler places them on the 2 CPUs.")" ""
	frag "Comparisons are **paired**: the ratio of two configurations' rates within each repetition" \
		"(which cancels what the runs of one repetition share, the machine's load of the moment), its" \
		"median over the repetitions, and a 95 % confidence interval from a percentile bootstrap" \
		"over repetitions (10,000 resamples of whole repetitions, \`bench/paired_ci.awk\`)." \
		"An interval that holds 1.0 is **not resolved**: this run cannot tell the two apart." \
		"Pairs to be compared run one after the other; so do the two runs of the A/A control, the" \
		"ceiling configuration measured twice, whose interval shows what two identical" \
		"configurations give here." ""
	frag "- **ceiling**, **ceiling_again**: the server namespace has no rule that needs conntrack, so it" \
		"  tracks nothing. ceiling_again is the same, run right after: the A/A control." \
		"- **tracked**: one nftables filter rule (\`ct state invalid counter\`) activates conntrack;" \
		"  every connection is tracked. All configurations below add their rules on top of it." \
		"- **unrelated**: tracked, with \`ctbypass attach --ports $UNRELATED_PORT\`; the load goes to" \
		"  port 80, which is not bypassed: what ctbypass costs the traffic it does not bypass" \
		"  (every arrival passes the classifier, the mark rule and the backstop's lookups; every" \
		"  reply the output chain)." \
		"- **iptables**: the seeds' raw-table NOTRACK rules with \`$(iptables-nft -V)\`," \
		"  both directions. 1 port: the seeds' one-port form (\`-m tcp --dport 80\` / \`--sport 80\`," \
		"  4 rules). 1,000 ports (80 and 20001-20999): their multiport form, 15 ports a rule," \
		"  $(iptables_rules "$PORTS_1000" | grep -c -- '^-A') rules, in the seeds' order (PREROUTING" \
		"  --dports, PREROUTING --sports, OUTPUT --dports, OUTPUT --sports) with port 80 in the last" \
		"  rule of each group: an arriving SYN passes 66 rules before its match, a reply from" \
		"  port 80 passes 133. No UNTRACKED accept rule: the lab's filter accepts everything." \
		"- **nftset**: one table, \`tcp dport @ports notrack\` at raw prerouting and" \
		"  \`tcp sport @ports notrack\` at raw output, ports in one set. It also untracks" \
		"  forwarded traffic and packets to port 80 of other hosts, which ctbypass leaves tracked." \
		"- **nftset_same**: one nftables set with ctbypass's semantics, local destinations only," \
		"  both directions: \`meta l4proto . th dport @ports fib daddr type local notrack\` at raw" \
		"  prerouting, \`meta l4proto . th sport @ports notrack\` at raw output, the set of type" \
		"  \`inet_proto . inet_service\` like ctbypass's. **nftset_same_ctr**: the same with" \
		"  ctbypass's counters (\`counter\` in both rules, a counter on each set element)." \
		"- **nftset_same_tc**: nftset_same plus the TC hook ctbypass uses, doing nothing: an empty" \
		"  program (\`bpf/empty.bpf.c\`) first on tcx ingress (kernel 6.6 and later), else at clsact" \
		"  ingress priority 1 in direct-action mode (this run: $(tcx_available && echo tcx || echo clsact))." \
		"- **ctbypass**: \`ctbypass -n NS attach --ports 80\` (or \`--ports 20001-20999,80\`)." \
		"- **ctb_nobackstop**, **ctb_nofib**, **ctb_noctr**: ctbypass attached, then its table" \
		"  listed (\`nft -s list table inet ctbypass\`), edited and loaded back in one transaction:" \
		"  without the prerouting chain's \`jump backstop\`; without every \`fib daddr type local\`;" \
		"  without every \`counter\` (rules and the sets' element counters). The classifier stays" \
		"  as attached." ""
	frag "| configuration | ports | conn/s (median) | min-max | vs ceiling | vs iptables (same ports) |" \
		"|---|---:|---:|---:|---:|---:|"
	awk -F, 'NR > 1 { printf "| %s | %s | %s | %s-%s | %.3f | %s |\n", $1, $2, $3, $4, $5, $6, $7 == "" ? "" : $7 }' \
		"$SUM" >>"$BENCH_FRAG/$BENCH_PART.md"
	frag "" "\"vs ceiling\" and \"vs iptables\" are medians over repetitions of the ratio within a" \
		"repetition, without intervals; the paired comparisons below have them." ""

	frag "### ctbypass against nftables with the same semantics" "" \
		"| comparison (1 port) | ratio, median [95 % CI] | |" "|---|---:|---|"
	for pair in "$HEADLINE" "ctbypass,1:nftset_same_ctr,1" "$AA"; do
		frag "| ${pair%%,*} / $(cut -d: -f2 <<<"$pair" | cut -d, -f1) | $(ci_text "$pair") | $(cost_text "$pair") |"
	done
	frag "" "The A/A control's interval is the yardstick: a difference that two identical" \
		"configurations also show is this machine's noise, not a cost."

	frag "" "### Where ctbypass's cost goes, and what unrelated traffic pays" "" \
		"Each row one step, as the ratio of the configuration with it to the one without it" \
		"(1 port, paired as above): below 1 the step costs connections per second." "" \
		"| step | comparison | ratio, median [95 % CI] | |" "|---|---|---:|---|"
	for c in "${COMPARE[@]:3}"; do
		pair=${c%%|*}
		what=${c#*|}
		frag "| $what | ${pair%%,*} / $(cut -d: -f2 <<<"$pair" | cut -d, -f1) | $(ci_text "$pair") | $(cost_text "$pair") |"
	done
	frag "" "Each interval alone has a 5 % chance of leaving out 1.0 when there is no difference;" \
		"with ${#COMPARE[@]} of them, one \"resolved\" row in a run is expected by chance. A step is" \
		"established when it resolves the same way in repeated runs, and agrees with the" \
		"rules' own counters (\`ctbypass status\`: e.g. no packet of the bypassed load reaches" \
		"the backstop, so its jump rule is never evaluated for it)." \
		"" "![paired ratios](conn_rate_paired.png)" "" \
		"Paired ratios with their intervals: \`conn_rate_paired.csv\`."

	frag "" "![connection rate](conn_rate.png)" "" \
		"Raw runs: \`conn_rate_raw.csv\` (also wrk errors, conntrack entries left after the run" \
		"and conntrack drops during it, for each run); summary: \`conn_rate.csv\`."
	r=$(awk -F, 'NR > 1 && $6 > 0 { e += $6 } END { print e + 0 }' "$RAW")
	[ "$r" -gt 0 ] && frag "" "wrk reported $r socket errors or non-2xx answers in total (see the raw CSV)."
	r=$(awk -F, 'NR > 1 && $2 ~ /^(ctbypass|ctb_|iptables|nftset)/ { e += $7 }
		END { print e + 0 }' "$RAW")
	frag "" "Conntrack entries left after the bypass configurations' runs, all runs together: $r" \
		"(0 means no connection of the load was tracked)."
	if [ -n "${PAIR_SRV[ctbypass:1]:-}" ]; then
		frag "" "ctbypass's own counters in the ctbypass configuration (1 port) after all its runs:" \
			"$(ctb_counters ctbypass:1 prerouting) packets untracked by the prerouting (mark) rule," \
			"$(ctb_counters ctbypass:1 backstop) by the backstop, $(ctb_counters ctbypass:1 output)" \
			"departures by the output chain. In the unrelated configuration (port $UNRELATED_PORT" \
			"bypassed, the load on port 80): $(ctb_counters unrelated:1 prerouting) and" \
			"$(ctb_counters unrelated:1 backstop)."
	fi

	hi=$(ci "$HEADLINE" "" ci95_hi)
	goal "conn rate, 1 port: ctbypass vs nftables with the same semantics: not behind it (the 95 % CI of the paired ratio reaches 1.0)" \
		"ctbypass / nftset_same $(ci_text "$HEADLINE" verdict) (A/A control: $(ci_text "$AA" verdict))" \
		"$(ge "${hi:-0}" 1.0)"
	for n in 1 1000; do
		c1=$(field ctbypass "$n" ratio_to_ceiling)
		i1=$(field ctbypass "$n" ratio_to_iptables)
		goal "conn rate, $n port(s): ctbypass >= 0.95 x ceiling" "$c1 x" "$(ge "$c1" 0.95)"
		goal "conn rate, $n port(s): ctbypass >= seeds' iptables rules" "$i1 x" "$(ge "$i1" 1.0)"
	done
	goal "conn rate, unrelated traffic (tracked, ctbypass attached for another port) vs tracked (no numeric goal)" \
		"unrelated / tracked $(ci_text "unrelated,1:tracked,1" verdict)" "-"
}

setup
measure
summarize
paired
{ figure && figure_paired; } || bench_die "gnuplot failed"
report
bench_done
