#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A host with a thousand interfaces (containers' veths, VLANs): attach, status,
# ports add and detach all work, the classifier goes on every interface, and
# detach leaves no filter and no clsact qdisc on any of them. Round 1 failed
# every command past 256 interfaces, detach included. The times are printed:
# on tcx the first attach and detach cost an RCU grace period per interface
# (README.md, "Kernels"); attach again replaces in place.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd curl nginx tc python3 "$CTBYPASS"

PAIRS=500 # veth pairs inside the server namespace: 1,000 interfaces, plus the lab's

ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
json_field() { python3 -c 'import json,sys; print(eval("json.load(sys.stdin)" + sys.argv[1]))' "$1"; }
now_ms() { date +%s%3N; }

add_interfaces() {
	local batch=$_CTBT_TMP/links i
	for ((i = 0; i < PAIRS; i++)); do
		echo "link add m$i type veth peer name n$i"
	done >"$batch"
	for ((i = 0; i < PAIRS; i++)); do
		echo "link set m$i up"
		echo "link set n$i up"
	done >>"$batch"
	ip -n "$SRV_NS" -batch "$batch"
}

# Interfaces carrying our filter, from one bpftool call (one tc call per
# interface is minutes under the VM lab's emulation).
count_filters() {
	classifiers "$SRV_NS" | awk '{ print $1 }' | sort -u | grep -c .
}
count_clsact() { tc -n "$SRV_NS" qdisc show | grep -c clsact; }

test_thousand_interfaces() {
	local t0 t1 out ifaces=$((2 * PAIRS + 1))

	check "create $((2 * PAIRS)) more interfaces" add_interfaces
	t0=$(now_ms)
	check "attach --ports 80" ctb attach --ports 80
	t1=$(now_ms)
	echo "    attach on $ifaces interfaces took $((t1 - t0)) ms"
	check_eq "the classifier is on every interface" "$ifaces" "$(count_filters)"
	out=$(ctb status --json)
	check_eq "status exits 0" 0 "$?"
	check_eq "status lists every interface" "$ifaces" "$(json_field '["interfaces"].__len__()' <<<"$out")"
	check_eq "status is healthy" True "$(json_field '["healthy"]' <<<"$out")"
	check "status (text) works" ctb status
	check_eq "requests work" 3 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 3)"
	check_eq "port 80 left no conntrack entry" 0 "$(ct_entries "$SRV_NS" -p tcp --orig-port-dst 80)"
	t0=$(now_ms)
	check "ports add 81" ctb ports add 81
	t1=$(now_ms)
	echo "    ports add on $ifaces interfaces took $((t1 - t0)) ms"
	check_eq "ports list" "tcp 80-81" "$(ctb ports list)"
	t0=$(now_ms)
	check "attach again (a new classifier in place)" ctb attach --ports 80,81
	t1=$(now_ms)
	echo "    attach again on $ifaces interfaces took $((t1 - t0)) ms"
	check_eq "the classifier is on every interface, once" "$ifaces $ifaces" \
		"$(classifiers "$SRV_NS" | awk '{ n++; d[$1] = 1 } END { print length(d), n }')"
	t0=$(now_ms)
	check "detach" ctb detach
	t1=$(now_ms)
	echo "    detach on $ifaces interfaces took $((t1 - t0)) ms"
	check_eq "no classifier filter left" 0 "$(count_filters)"
	check_eq "no clsact qdisc left" 0 "$(count_clsact)"
	check_not "no nftables table left" bash -c "ip netns exec '$SRV_NS' nft list tables | grep -q ctbypass"
	check_eq "status: not attached" "not attached" "$(ctb status)"
}

lab_up
start_nginx "$SRV_NS" 80 || fail "start nginx"
test_thousand_interfaces
finish
