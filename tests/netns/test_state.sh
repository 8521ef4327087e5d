#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# State lives in the kernel, not in the process or in bpffs pins:
# - attach, status, ports add and detach as separate `ip netns exec` calls (each
#   gets a fresh /sys, so pins made by one would be invisible to the next);
# - a foreign TC filter added before attach keeps running beside ours, and after
#   detach, on its qdisc, which detach leaves alone;
# - attach on an attached namespace replaces the setup in place: under steady
#   traffic, port 80 is never tracked while the mark and ports change.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd curl nginx tc bpftool python3 "$CTBYPASS" "$TRAFFICGEN"

FOREIGN_PROG=$CTBT_ROOT/build/tests/foreign_filter.bpf.o

exec_ctb() { ip netns exec "$SRV_NS" "$CTBYPASS" "$@"; }
port80_entries() {
	echo $(($(ct_entries "$SRV_NS" -p tcp --orig-port-dst 80) +
		$(ct_entries "$SRV_NS" -p tcp --orig-port-src 80)))
}
# The ids of the classifier programs attached in the server namespace.
ns_prog_ids() {
	classifiers "$SRV_NS" | awk '{ print $2 }' | sort -u | xargs
}
foreign_hits() {
	bpftool map dump name foreign_hits 2>/dev/null | grep -o '"value": [0-9]*' |
		grep -o '[0-9]*$' | head -n 1
}

test_separate_exec_calls() {
	check "attach in one ip netns exec" exec_ctb attach --ports 80
	check "status in another sees it" \
		bash -c "ip netns exec '$SRV_NS' '$CTBYPASS' status --json | grep -q '\"attached\":true'"
	check "ports add in a third" exec_ctb ports add 81
	check_eq "-n sees the change" "tcp 80-81" "$("$CTBYPASS" -n "$SRV_NS" ports list)"
	check_eq "requests work" 3 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 3)"
	check_eq "no entry for port 80" 0 "$(port80_entries)"
	check "detach in a fourth" exec_ctb detach
	check_eq "status: not attached" "not attached" "$(exec_ctb status)"
	check_not "no nftables table left" \
		bash -c "ip netns exec '$SRV_NS' nft list ruleset | grep -q ctbypass"
	check_eq "requests are tracked again" 3 "$(
		curl_many "$CLI_NS" "http://$SRV_IP4/" 3 >/dev/null
		port80_entries
	)"
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
}

test_foreign_filter() {
	local before
	tc -n "$SRV_NS" qdisc add dev "$SRV_DEV" clsact &&
		tc -n "$SRV_NS" filter add dev "$SRV_DEV" ingress prio 10 \
			bpf obj "$FOREIGN_PROG" sec tc direct-action
	check_eq "foreign filter installed before attach" 0 "$?"
	check "attach beside it" "$CTBYPASS" -n "$SRV_NS" attach --ports 80
	before=$(foreign_hits)
	check_eq "requests work" 3 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 3)"
	check_ge "the foreign filter runs while attached" $((before + 6)) "$(foreign_hits)"
	check "detach" "$CTBYPASS" -n "$SRV_NS" detach
	check "the foreign filter is still there" \
		bash -c "tc -n '$SRV_NS' filter show dev '$SRV_DEV' ingress | grep -q foreign_filter"
	check_not "ours is gone" classifier_on "$SRV_NS" "$SRV_DEV"
	check "the clsact qdisc (not ours) is still there" \
		bash -c "tc -n '$SRV_NS' qdisc show dev '$SRV_DEV' | grep -q clsact"
	before=$(foreign_hits)
	check_eq "requests work after detach" 3 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 3)"
	check_ge "the foreign filter still runs after detach" $((before + 6)) "$(foreign_hits)"
	tc -n "$SRV_NS" qdisc del dev "$SRV_DEV" clsact
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
}

test_replace_under_traffic() {
	local pid rc i=0 changes=0 failed_changes=0 seen_progs= id now leaked=0
	local setups=("--ports 80 --mark 0x20000" "--ports 80,81 --proto tcp,udp"
		"--ports 79-81 --mark 0x1000" "--ports 80 --upstream $CLI_IP4:3128"
		"--ports 80 --mark 0x40000000" "--ports 80")

	check "attach --ports 80" "$CTBYPASS" -n "$SRV_NS" attach --ports 80
	# New connections one after another, while the setup keeps changing under them
	# (the mark changes every other time) until they are done: at most 30 changes.
	# --no-flush: a flush would delete the very entries a gap would have created.
	tg "$CLI_NS" connect --proto tcp --to "$SRV_IP4" --port 80 --http --count 40000 \
		--timeout-ms 2000 >"$_CTBT_TMP/replace.out" 2>&1 &
	pid=$!
	lab_track_pid "$pid"
	while kill -0 "$pid" 2>/dev/null && [ $changes -lt 30 ]; do
		# shellcheck disable=SC2086
		"$CTBYPASS" -n "$SRV_NS" attach --no-flush ${setups[i]} >/dev/null ||
			failed_changes=$((failed_changes + 1))
		seen_progs+=" $(ns_prog_ids)"
		changes=$((changes + 1))
		i=$(((i + 1) % ${#setups[@]}))
	done
	wait "$pid"
	rc=$?
	# Three changes include at least one change of mark (the setups alternate).
	check_ge "the setup changed under traffic" 3 "$changes"
	check_eq "every change succeeded" 0 "$failed_changes"
	check_eq "all connections succeeded during the changes" "0 ok=40000 fail=0" \
		"$rc $(tail -n 1 "$_CTBT_TMP/replace.out")"
	if ! check_eq "port 80 was never tracked in between" 0 "$(port80_entries)"; then
		echo "    | tracked entries (first 8):"
		in_ns "$SRV_NS" conntrack -L -p tcp 2>/dev/null | grep -E 'port=80 ' | head -n 8 |
			sed 's/^/    | /'
	fi
	# Every program this namespace ran during the changes is freed but the current
	# one (other tests and benchmarks may run classifiers of their own meanwhile).
	now=$(ns_prog_ids)
	check_eq "one classifier program on the interface" 1 "$(wc -w <<<"$now")"
	for id in $(tr ' ' '\n' <<<"$seen_progs" | sort -u); do
		[ "$id" = "$now" ] && continue
		bpftool prog show id "$id" >/dev/null 2>&1 && leaked=$((leaked + 1))
	done
	check_eq "every replaced classifier program was freed" 0 "$leaked"
	check "detach" "$CTBYPASS" -n "$SRV_NS" detach
}

lab_up
start_nginx "$SRV_NS" 80 || finish
test_separate_exec_calls
test_foreign_filter
test_replace_under_traffic
finish
