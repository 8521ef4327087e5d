#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `status` tells the truth, and `attach` again heals: against the real kernel,
# - `nft flush ruleset` (a firewall reload) while attached: status exits 1 and
#   names the missing table; attach repairs it, requests stay untracked, and
#   status exits 0;
# - an interface created after attach, and one re-created under a name given
#   with --iface, are named by status until attach runs again;
# - the classifier's map and the nftables set disagreeing is a problem;
# - not attached, or attached and healthy: exit 0.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd curl nginx nft python3 "$CTBYPASS"

ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
status_rc() { ctb status >/dev/null 2>&1; echo $?; }
problems() { ctb status --json | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["problems"]))'; }
port80_entries() { ct_entries "$SRV_NS" -p tcp --orig-port-dst 80; }

test_not_attached() {
	check_eq "not attached: status exits 0" 0 "$(status_rc)"
	check "not attached: healthy in JSON" bash -c \
		"'$CTBYPASS' -n '$SRV_NS' status --json | grep -q '\"healthy\":true'"
}

test_flushed_ruleset() {
	check "attach --ports 80" ctb attach --ports 80
	check_eq "healthy: status exits 0" 0 "$(status_rc)"
	check "nft flush ruleset" in_ns "$SRV_NS" nft flush ruleset
	lab_conntrack_on "$SRV_NS" # what the firewall reload put back: conntrack stays on
	check_eq "table gone: status exits 1" 1 "$(status_rc)"
	check "the problem names the missing table" bash -c "grep -q 'table inet ctbypass is missing' <<<\"\$1\"" _ "$(problems)"
	check "text status shows it too" bash -c "'$CTBYPASS' -n '$SRV_NS' status | grep -q 'problem'"
	check_eq "meanwhile port 80 is tracked again" 3 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 3)"
	check_ge "(entries appear)" 1 "$(port80_entries)"
	check "attach again repairs it" ctb attach --ports 80
	check_eq "repaired: status exits 0" 0 "$(status_rc)"
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	check_eq "requests work" 3 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 3)"
	check_eq "port 80 is untracked again" 0 "$(port80_entries)"
	check "detach" ctb detach
}

test_new_interface() {
	check "attach --ports 80" ctb attach --ports 80
	ip -n "$SRV_NS" link add late0 type veth peer name late1 &&
		ip -n "$SRV_NS" link set late0 up && ip -n "$SRV_NS" link set late1 up
	check_eq "interfaces created after attach: status exits 1" 1 "$(status_rc)"
	check "the problem names them" bash -c "grep -q 'no classifier on 2 interfaces.*late' <<<\"\$1\"" _ "$(problems)"
	check "attach again covers them" ctb attach --ports 80
	check_eq "covered: status exits 0" 0 "$(status_rc)"
	check "detach" ctb detach
	ip -n "$SRV_NS" link del late0
}

test_recreated_named_interface() {
	ip -n "$SRV_NS" link add named0 type veth peer name named1 &&
		ip -n "$SRV_NS" link set named0 up && ip -n "$SRV_NS" link set named1 up
	check "attach --iface $SRV_DEV,named0" ctb attach --ports 80 --iface "$SRV_DEV,named0"
	check_eq "status exits 0" 0 "$(status_rc)"
	check "an interface not named is no problem" bash -c \
		"'$CTBYPASS' -n '$SRV_NS' status --json | grep -q '\"iface_selection\":\"list\"'"
	ip -n "$SRV_NS" link del named0
	ip -n "$SRV_NS" link add named0 type veth peer name named1 &&
		ip -n "$SRV_NS" link set named0 up
	check_eq "re-created named interface: status exits 1" 1 "$(status_rc)"
	check "the problem names it" bash -c "grep -q 'no classifier on 1 interface .*named0' <<<\"\$1\"" _ "$(problems)"
	check "attach again with the same --iface" ctb attach --ports 80 --iface "$SRV_DEV,named0"
	check_eq "status exits 0" 0 "$(status_rc)"
	check "detach" ctb detach
	ip -n "$SRV_NS" link del named0
}

test_map_set_disagree() {
	check "attach --ports 80" ctb attach --ports 80
	# What a half-applied change of an older version left: the set has 8080, the classifier not.
	in_ns "$SRV_NS" nft add element inet ctbypass server_ports '{ tcp . 8080 }'
	check_eq "disagreement: status exits 1" 1 "$(status_rc)"
	check "the problem names the port" bash -c "grep -q 'tcp/8080 only in nftables' <<<\"\$1\"" _ "$(problems)"
	check "attach again" ctb attach --ports 80
	check_eq "agree again: status exits 0" 0 "$(status_rc)"
	check "detach" ctb detach
}

# A second ctbypass filter on one interface, as concurrent commands of an older
# version left (on tcx: one on clsact beside ours, as an interrupted upgrade
# leaves): status names it, attach removes it.
test_duplicate_filter() {
	local n
	check "attach --ports 80" ctb attach --ports 80
	if tcx_available; then
		tc -n "$SRV_NS" qdisc add dev "$SRV_DEV" clsact
	fi
	tc -n "$SRV_NS" filter add dev "$SRV_DEV" ingress prio 1 handle 0xc7b0 bpf \
		obj "$CTBT_ROOT/build/bpf/classifier.bpf.o" sec tc direct-action
	check_eq "a second classifier filter on $SRV_DEV" 0 "$?"
	check_eq "status exits 1" 1 "$(status_rc)"
	check "the problem names the interface" bash -c \
		"grep -q 'more than one ctbypass classifier on 1 interface: $SRV_DEV' <<<\"\$1\"" _ "$(problems)"
	check "attach again" ctb attach --ports 80
	n=$(classifiers "$SRV_NS" | grep -c "^$SRV_DEV ")
	check_eq "one classifier filter left" 1 "$n"
	check_eq "healed: status exits 0" 0 "$(status_rc)"
	check "detach" ctb detach
	tc -n "$SRV_NS" qdisc del dev "$SRV_DEV" clsact 2>/dev/null
}

# One of the table's fixed rules deleted by hand (here the jump to the backstop):
# status says the table is incomplete, attach writes its rules again.
test_rule_deleted() {
	local handle
	check "attach --ports 80" ctb attach --ports 80
	handle=$(ip netns exec "$SRV_NS" nft -a list chain inet ctbypass prerouting |
		sed -n 's/.*jump backstop # handle \([0-9]*\)/\1/p')
	check "delete the jump to the backstop" \
		in_ns "$SRV_NS" nft delete rule inet ctbypass prerouting handle "$handle"
	check_eq "status exits 1" 1 "$(status_rc)"
	check "the problem says rules are missing" bash -c \
		"grep -q 'lacks some of its rules' <<<\"\$1\"" _ "$(problems)"
	check "attach again" ctb attach --ports 80
	check "the jump is back" bash -c \
		"ip netns exec '$SRV_NS' nft list chain inet ctbypass prerouting | grep -q 'jump backstop'"
	check_eq "healed: status exits 0" 0 "$(status_rc)"
	check "detach" ctb detach
}

lab_up
start_nginx "$SRV_NS" 80 || fail "start nginx"
test_not_attached
test_flushed_ruleset
test_new_interface
test_recreated_named_interface
test_map_set_disagree
test_duplicate_filter
test_rule_deleted
finish
