#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The core promise, against the real kernel: with the server namespace's conntrack
# table full, requests to nginx fail and `drop` rises; after `attach --ports 80`
# none fail, `drop` stays flat, and port 80 leaves no conntrack entry in either
# direction. Also: entries from before attach are flushed, `ports add/del` change
# the outcome live, and `detach` leaves nothing behind.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd curl nginx bpftool tc "$CTBYPASS" "$CTFILL"

ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
port_entries() { # entries with port $1 as original source or destination
	echo $(($(ct_entries "$SRV_NS" -p tcp --orig-port-dst "$1") +
		$(ct_entries "$SRV_NS" -p tcp --orig-port-src "$1")))
}

test_flush_on_attach() {
	check_eq "requests to port 80 before attach" 3 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 3)"
	check_ge "they left conntrack entries" 3 "$(port_entries 80)"
	check "attach --ports 80" ctb attach --ports 80
	check_eq "entries from before attach are gone" 0 "$(port_entries 80)"
	check "detach" ctb detach
}

test_table_full() {
	local max drop0 drop1

	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	max=$(($(ct_max_floor) + 60))
	lower_ct_max "$max" || return
	ct_fill "$SRV_NS" "$max" --dport 443 >/dev/null
	check_eq "table filled to the max" "$max" "$(ct_count "$SRV_NS")"

	drop0=$(ct_stat "$SRV_NS" drop)
	check_eq "without ctbypass, requests fail" 0 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 3)"
	check_ge "without ctbypass, drop rises" $((drop0 + 3)) "$(ct_stat "$SRV_NS" drop)"

	check "attach --ports 80" ctb attach --ports 80
	drop1=$(ct_stat "$SRV_NS" drop)
	check_eq "with ctbypass, no request fails" 20 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 20)"
	check_eq "with ctbypass, drop stays flat" "$drop1" "$(ct_stat "$SRV_NS" drop)"
	check_eq "no entry for port 80 in either direction" 0 "$(port_entries 80)"
	check_eq "port 8080 is not bypassed: still fails" 0 \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4:8080/" 1)"

	check "ports add 8080" ctb ports add 8080
	check_eq "8080 works once added" 5 "$(curl_many "$CLI_NS" "http://$SRV_IP4:8080/" 5)"
	check_eq "ports list" "tcp 80,8080" "$(ctb ports list)"
	check "ports del 8080" ctb ports del 8080
	check_eq "8080 fails again once removed" 0 \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4:8080/" 1)"
	check_eq "80 unaffected by the change" 5 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 5)"
	check_eq "still no entry for port 80" 0 "$(port_entries 80)"
}

test_status() {
	local json

	json=$(ctb status --json)
	check "status --json is attached with ports [80]" \
		grep -q '"attached":true,"complete":true,"ports":\[80\]' <<<"$json"
	check "status --json names the interface" grep -q "\"interfaces\":\[\"$SRV_DEV\"\]" <<<"$json"
	check "classifier counted port 80 arrivals" \
		grep -Eq '"port":80,"protocol":"tcp"' <<<"$json"
	check_ge "classifier packets" 50 \
		"$(grep -o '"classifier":{"packets":[0-9]*' <<<"$json" | grep -o '[0-9]*$')"
	check_ge "untracked departures" 50 \
		"$(grep -o '"untracked_departures":{"packets":[0-9]*' <<<"$json" | grep -o '[0-9]*$')"
	check "status (text) lists port 80" bash -c "'$CTBYPASS' -n '$SRV_NS' status | grep -q 'to tcp/80'"
}

test_detach_leaves_nothing() {
	local prog maps id
	# The exact program and maps of this attachment, so other users of BPF don't matter.
	prog=$(classifier_id "$SRV_NS" "$SRV_DEV")
	maps=$(bpftool prog show id "$prog" 2>/dev/null | grep -o 'map_ids [0-9,]*' |
		grep -o '[0-9,]*$' | tr ',' ' ')
	check "found our program and maps before detach" test -n "$prog" -a -n "$maps"
	check "detach" ctb detach
	check_not "no nftables table" bash -c "ip netns exec '$SRV_NS' nft list ruleset | grep -q ctbypass"
	check_eq "no TC filter" "" "$(tc -n "$SRV_NS" filter show dev "$SRV_DEV" ingress)"
	check_eq "no tcx program" "" "$(ip netns exec "$SRV_NS" "$CTBT_ROOT/build/tools/tcx_tool" list "$SRV_DEV")"
	check_not "no clsact qdisc (it was ours)" \
		bash -c "tc -n '$SRV_NS' qdisc show dev '$SRV_DEV' | grep -q clsact"
	# The kernel frees a deleted filter's program after an RCU grace period.
	check "our program is gone (bpftool)" \
		wait_until 5 bash -c "! bpftool prog show id $prog >/dev/null 2>&1"
	for id in $maps; do
		check "our map $id is gone (bpftool)" \
			wait_until 5 bash -c "! bpftool map show id $id >/dev/null 2>&1"
	done
	check_eq "status: not attached" "not attached" "$(ctb status)"
	check "detach again succeeds" ctb detach
	check_eq "requests fail again without ctbypass" 0 \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4/" 1)"
}

lab_up
start_nginx "$SRV_NS" 80 8080 || finish
test_flush_on_attach
test_table_full
test_status
test_detach_leaves_nothing
finish
