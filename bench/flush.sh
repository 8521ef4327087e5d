#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Part 6: the conntrack flush after `attach --ports 80`, on a server namespace
# whose table holds 262,144 ASSURED entries (nf_conntrack_max here; the fill
# is per namespace, the max is not changed): all to the host's port 80 (every
# entry deleted), or all to port 81 (every entry read, none deleted). The time
# is the flush's own, as `ctbypass -v` reports it (local routes read, table
# dumped, matches deleted), so attaching the classifier does not count.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init flush
need_cmd "$CTBYPASS" "$CTFILL" conntrack

: "${FLUSH_ENTRIES:=262144}"
CSV=$BENCH_OUT/flush.csv
TMP=$_CTBT_TMP

# one CASE PORT REP: fill the table with entries to PORT, attach --ports 80,
# append "case,rep,entries,read,deleted,seconds" to the CSV.
one() {
	local c=$1 port=$2 rep=$3 n out line
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	n=$(ct_fill "$SRV_NS" "$FLUSH_ENTRIES" --dst "$SRV_IP4" --dport "$port") ||
		bench_die "ctfill stopped after $n of $FLUSH_ENTRIES entries"
	bg_wait "$TMP/attach.out" "$CTBYPASS" -v -n "$SRV_NS" attach --ports 80 ||
		bench_die "attach failed: $(tail -n 3 "$TMP/attach.out")"
	line=$(grep 'flush: ' "$TMP/attach.out") ||
		bench_die "no flush line from ctbypass -v: $(tail -n 3 "$TMP/attach.out")"
	# "flush: R entries read, D deleted, P local prefixes, S s"
	out=$(sed -n 's/.*flush: \([0-9]*\) entries read, \([0-9]*\) deleted, .*, \([0-9.]*\) s$/\1,\2,\3/p' \
		<<<"$line")
	[ -n "$out" ] || bench_die "unexpected flush line: $line"
	echo "$c,$rep,$n,$out" >>"$CSV"
	"$CTBYPASS" -n "$SRV_NS" detach >/dev/null || bench_die "detach failed"
}

measure() {
	local rep
	echo "case,rep,entries,read,deleted,seconds" >"$CSV"
	# The fill needs the host's whole max: no test may lower it meanwhile.
	hold_ct_max || bench_die "nf_conntrack_max stayed lowered by a test"
	for ((rep = 1; rep <= BENCH_REPS; rep++)); do
		# Alternating, so the machine's drift spreads over both cases alike.
		one matching 80 "$rep"
		one non-matching 81 "$rep"
	done
}

# stats CASE: "median min max" of the seconds.
stats() {
	local med
	med=$(awk -F, -v c="$1" 'NR > 1 && $1 == c { print $6 }' "$CSV" | median)
	awk -F, -v c="$1" -v med="$med" 'NR > 1 && $1 == c {
		if (n++ == 0 || $6 < lo) lo = $6; if ($6 > hi) hi = $6 }
		END { printf "%.3f %.3f %.3f\n", med, lo, hi }' "$CSV"
}

report() {
	local c s deleted
	frag "## 6. Conntrack flush" ""
	frag "\`ctbypass -v attach --ports 80\` on a server namespace whose table holds" \
		"$FLUSH_ENTRIES ASSURED TCP entries (\`ctfill\`): to the host's own address and port 80" \
		"(matching: every one deleted) or port 81 (non-matching: every one read, none deleted)." \
		"The time is the flush's own as \`-v\` prints it: reading the local routing table," \
		"one ctnetlink dump, and the deletes in batches of 256. $BENCH_REPS repetitions of each," \
		"alternating." ""
	frag "| case | entries | deleted (each run) | median s | min s | max s |" \
		"|---|---:|---:|---:|---:|---:|"
	for c in matching non-matching; do
		read -r -a s <<<"$(stats "$c")"
		deleted=$(awk -F, -v c="$c" 'NR > 1 && $1 == c { print $5 }' "$CSV" | sort -u | tr '\n' ' ')
		frag "| $c | $FLUSH_ENTRIES | ${deleted% } | ${s[0]} | ${s[1]} | ${s[2]} |"
		[ "$c" = matching ] && goal "flush of $FLUSH_ENTRIES matching entries < 1 s (median)" \
			"${s[0]} s" "$(le "${s[0]}" 1)"
	done
	frag "" "Data: \`flush.csv\`."
}

lab_up
measure
report
bench_done
