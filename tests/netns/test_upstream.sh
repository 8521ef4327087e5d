#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The host as a client of an upstream (the seeds' squid on 3128): with the host's
# table full, its connections to the upstream fail; after `attach --upstream` they
# succeed and leave no entry. Arrivals are matched on address *and* port: a sender
# at another address using source port 3128 is tracked (and so dropped here).
#
# The "host" is the server namespace (SRV_NS, where ctbypass runs); the upstream
# listens in the client namespace.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd "$CTBYPASS" "$CTFILL" "$TRAFFICGEN"

SPOOF_IP4=198.18.0.3
OTHER_UPSTREAM_IP4=198.18.0.4
ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
upstream_entries() {
	echo $(($(ct_entries "$SRV_NS" -p tcp --orig-port-dst 3128) +
		$(ct_entries "$SRV_NS" -p tcp --orig-port-src 3128)))
}
to_upstream() { # host -> upstream, $1 = address, $2 = count
	tg "$SRV_NS" connect --proto tcp --to "$1" --port 3128 --count "$2" --timeout-ms 700
}

test_flush_on_attach() {
	check "host reaches the upstream" to_upstream "$CLI_IP4" 3
	check_ge "those connections left entries" 3 "$(upstream_entries)"
	check "attach --upstream" ctb attach --upstream "$CLI_IP4:3128"
	check_eq "the upstream's old entries were flushed" 0 "$(upstream_entries)"
	check "detach" ctb detach
}

test_table_full() {
	local max drop0 drop1 json

	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	max=$(($(ct_max_floor) + 60))
	lower_ct_max "$max" || return
	ct_fill "$SRV_NS" "$max" --dport 443 >/dev/null
	check_eq "table filled to the max" "$max" "$(ct_count "$SRV_NS")"
	drop0=$(ct_stat "$SRV_NS" drop)
	check_not "without ctbypass, connections to the upstream fail" to_upstream "$CLI_IP4" 1
	check_ge "without ctbypass, drop rises" $((drop0 + 1)) "$(ct_stat "$SRV_NS" drop)"

	check "attach --upstream v4, v6 and a second v4 upstream" \
		ctb attach --upstream "$CLI_IP4:3128,[$CLI_IP6]:3128,$OTHER_UPSTREAM_IP4:3128"
	drop1=$(ct_stat "$SRV_NS" drop)
	check "with ctbypass, 10 connections to the upstream succeed" to_upstream "$CLI_IP4" 10
	check "and over IPv6" to_upstream "$CLI_IP6" 5
	check_eq "drop stays flat" "$drop1" "$(ct_stat "$SRV_NS" drop)"
	check_eq "no entry for the upstream in either direction" 0 "$(upstream_entries)"

	# Arrivals from an upstream's address and port are bypassed, whatever our port...
	check "an upstream's address and port reach our port 8081" \
		tg "$CLI_NS" connect --proto tcp --to "$SRV_IP4" --port 8081 --sport 3128 \
		--bind "$OTHER_UPSTREAM_IP4" --timeout-ms 700
	# ...but source port 3128 at another address is not: tracked, so dropped here.
	drop1=$(ct_stat "$SRV_NS" drop)
	check_not "another address using source port 3128 is not bypassed" \
		tg "$CLI_NS" connect --proto tcp --to "$SRV_IP4" --port 8081 --sport 3128 \
		--bind "$SPOOF_IP4" --timeout-ms 700
	check_ge "its packets hit the full table (drop rises)" $((drop1 + 1)) \
		"$(ct_stat "$SRV_NS" drop)"

	json=$(ctb status --json)
	check "status --json lists the v4 upstream" grep -qF "\"$CLI_IP4:3128\"" <<<"$json"
	check "status --json lists the v6 upstream" grep -qF "\"[$CLI_IP6]:3128\"" <<<"$json"
	check "status --json counts arrivals from the upstream" \
		grep -qE "\"packets\":[1-9][0-9]*,\"bytes\":[0-9]+,\"upstream\":\"$CLI_IP4:3128\"" <<<"$json"
	check "upstream del" bash -c "'$CTBYPASS' -n '$SRV_NS' upstream del '$CLI_IP4:3128' >/dev/null"
	check_not "removed upstream: connections fail again" to_upstream "$CLI_IP4" 1
	check "upstream add" bash -c "'$CTBYPASS' -n '$SRV_NS' upstream add '$CLI_IP4:3128' >/dev/null"
	check "added back: connections succeed" to_upstream "$CLI_IP4" 3
	check "detach" ctb detach
}

lab_up
lab_add_client_addr "$SPOOF_IP4"
lab_add_client_addr "$OTHER_UPSTREAM_IP4"
# Bound to one address each, so other addresses can send from port 3128.
start_trafficgen "$CLI_NS" --proto tcp --port 3128 --bind "$CLI_IP4" || finish
start_trafficgen "$CLI_NS" --proto tcp --port 3128 --bind "$CLI_IP6" || finish
start_trafficgen "$SRV_NS" --proto tcp --port 8081 || finish
test_flush_on_attach
test_table_full
finish
