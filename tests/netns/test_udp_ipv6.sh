#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# UDP and IPv6 under a full table: without ctbypass both are dropped; with it,
# IPv6 HTTP and UDP echoes (small, and 3000-byte datagrams that arrive as IP
# fragments) succeed and leave no conntrack entry. The fragments are reassembled
# before the raw hook, keeping the first fragment's mark: checked through the
# kernel's reassembly counters.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd curl nginx "$CTBYPASS" "$CTFILL" "$TRAFFICGEN"

ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
echo_udp() { # $1 address, $2 size, $3 count
	tg "$CLI_NS" connect --proto udp --to "$1" --port 5353 --size "$2" --count "${3:-1}" \
		--timeout-ms 700
}
entries() { # $1 protocol, $2 port, either direction
	echo $(($(ct_entries "$SRV_NS" -p "$1" --orig-port-dst "$2") +
		$(ct_entries "$SRV_NS" -p "$1" --orig-port-src "$2")))
}

test_full_table() {
	local max drop0 drop1 reasm4 frag6

	max=$(($(ct_max_floor) + 60))
	lower_ct_max "$max" || return
	ct_fill "$SRV_NS" "$max" --dport 443 >/dev/null
	check_eq "table filled to the max" "$max" "$(ct_count "$SRV_NS")"

	drop0=$(ct_stat "$SRV_NS" drop)
	check_eq "without ctbypass, IPv6 requests fail" 0 \
		"$(curl_many "$CLI_NS" "http://[$SRV_IP6]/" 2)"
	check_not "without ctbypass, UDP echo fails" echo_udp "$SRV_IP4" 64
	check_not "without ctbypass, a fragmented UDP echo fails" echo_udp "$SRV_IP4" 3000
	check_ge "without ctbypass, drop rises" $((drop0 + 3)) "$(ct_stat "$SRV_NS" drop)"

	check "attach --ports 80,5353 --proto tcp,udp" ctb attach --ports 80,5353 --proto tcp,udp
	drop1=$(ct_stat "$SRV_NS" drop)
	check_eq "IPv6 requests succeed" 10 "$(curl_many "$CLI_NS" "http://[$SRV_IP6]/" 10)"
	check_eq "no IPv6 entry for port 80" 0 \
		"$(($(ct_entries "$SRV_NS" -f ipv6 -p tcp --orig-port-dst 80) +
			$(ct_entries "$SRV_NS" -f ipv6 -p tcp --orig-port-src 80)))"
	check "UDP echo over IPv4" echo_udp "$SRV_IP4" 64 5
	check "UDP echo over IPv6" echo_udp "$SRV_IP6" 64 5

	reasm4=$(net_stat "$SRV_NS" IpReasmOKs)
	# nf_defrag_ipv6 reassembles without touching Ip6ReasmOKs: count at the sender.
	frag6=$(net_stat "$CLI_NS" Ip6FragCreates)
	check "3000-byte UDP echo over IPv4 (fragmented)" echo_udp "$SRV_IP4" 3000 3
	check "3000-byte UDP echo over IPv6 (fragmented)" echo_udp "$SRV_IP6" 3000 3
	check_ge "IPv4 datagrams arrived as fragments" $((reasm4 + 3)) \
		"$(net_stat "$SRV_NS" IpReasmOKs)"
	check_ge "IPv6 datagrams left as fragments" $((frag6 + 6)) \
		"$(net_stat "$CLI_NS" Ip6FragCreates)"
	check_eq "no UDP entry for port 5353" 0 "$(entries udp 5353)"
	check_eq "drop stays flat" "$drop1" "$(ct_stat "$SRV_NS" drop)"
	check "detach" ctb detach
}

# With room in the table, a port that is not bypassed is tracked as usual:
# shows that the zero counts above are ctbypass's doing.
test_control() {
	check "UDP echo to an unbypassed port" \
		tg "$CLI_NS" connect --proto udp --to "$SRV_IP4" --port 5354 --count 1 --timeout-ms 700
	check_eq "the unbypassed port got an entry" 1 "$(entries udp 5354)"
}

lab_up
start_nginx "$SRV_NS" 80 || finish
start_trafficgen "$SRV_NS" --proto udp --port 5353 || finish
start_trafficgen "$SRV_NS" --proto udp --port 5354 || finish
test_control
in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
test_full_table
finish
