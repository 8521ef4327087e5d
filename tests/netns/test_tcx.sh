#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The hook the classifier runs on (README.md, "Kernels"): tcx where the kernel
# has it (6.6 and later), clsact before.
# - status names the hook; on tcx ours runs first, and no clsact qdisc is made;
# - a foreign tcx program that ends the list (TCX_PASS) placed in front of ours
#   hides arrivals from the classifier: status reports it (exit 1, the
#   program's name), local arrivals fall to the backstop and stay untracked,
#   and `attach` takes the front back without removing the other program;
# - `tc qdisc del ... clsact` (firewall and traffic-shaping scripts do it)
#   no longer touches the classifier on tcx;
# - detach removes only ours;
# - a classifier an older version put on clsact, behind a tool's tcx program,
#   is reported, and moves to the front of tcx on `attach`.
# Without tcx: the classifier is a clsact filter and status says so; a kernel
# of 6.6 or later without tcx fails the test.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"
# shellcheck source=../lib/kernel.sh
source "$(dirname "$LIB")/kernel.sh"

require_root
need_cmd curl nginx tc bpftool python3 "$CTBYPASS" "$CTBT_ROOT/build/tools/tcx_tool"

TCX_TOOL=$CTBT_ROOT/build/tools/tcx_tool
PASS_PROG=$CTBT_ROOT/build/tests/foreign_tcx_pass.bpf.o

ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
status_json() { ctb status --json; }
# The programs on the server interface's tcx hook, in the order they run (names).
tcx_names() { ip netns exec "$SRV_NS" "$TCX_TOOL" list "$SRV_DEV" | awk '{ print $1 }' | xargs; }
counter() { status_json | json "d['counters']['$1']['packets']"; }
# Packets the classifier marked, all ports.
marked() { status_json | json "sum(p['packets'] for p in d['counters']['classifier']['ports'])"; }
port80_entries() { ct_entries "$SRV_NS" -p tcp --orig-port-dst 80; }

test_hook_matches_kernel() {
	if kernel_at_least 6.6; then
		check "kernel $(uname -r) has tcx" tcx_available
	else
		check_not "kernel $(uname -r) has no tcx" tcx_available
	fi
}

test_clsact_kernel() {
	check "attach --ports 80" ctb attach --ports 80
	check_eq "status --json: hook clsact" clsact "$(status_json | json "d['hook']")"
	check "status says hook clsact" bash -c "'$CTBYPASS' -n '$SRV_NS' status | grep -qE '^  hook +clsact$'"
	check "the classifier is a clsact filter" bash -c \
		"tc -n '$SRV_NS' filter show dev '$SRV_DEV' ingress | grep -q ctb_ingress"
	check_eq "requests work" 5 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 5)"
	check_ge "the classifier marked them" 5 "$(marked)"
	check_eq "untracked" 0 "$(port80_entries)"
	check "detach" ctb detach
	check_not "no clsact qdisc left" bash -c "tc -n '$SRV_NS' qdisc show dev '$SRV_DEV' | grep -q clsact"
}

test_tcx_first() {
	check "attach --ports 80" ctb attach --ports 80
	check_eq "status --json: hook tcx" tcx "$(status_json | json "d['hook']")"
	check "status says hook tcx" bash -c "'$CTBYPASS' -n '$SRV_NS' status | grep -qE '^  hook +tcx$'"
	check_eq "ours alone on the tcx hook" ctb_ingress "$(tcx_names)"
	check_not "no clsact qdisc made" bash -c "tc -n '$SRV_NS' qdisc show dev '$SRV_DEV' | grep -q clsact"
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	check_eq "requests work" 10 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 10)"
	check_ge "the classifier marked them" 10 "$(marked)"
	check_eq "untracked" 0 "$(port80_entries)"
	check "status: healthy" ctb status
}

# A Cilium-like tool attaching later, in front, ending the list.
test_foreign_in_front() {
	local id marked0 backstop0
	id=$(ip netns exec "$SRV_NS" "$TCX_TOOL" front "$SRV_DEV" "$PASS_PROG")
	check "a foreign TCX_PASS program put in front" test -n "$id"
	check_eq "it runs first" "foreign_pass ctb_ingress" "$(tcx_names)"
	check_eq "status exits 1" 1 "$(ctb status >/dev/null 2>&1; echo $?)"
	check "the problem names the interface and the program" bash -c \
		"'$CTBYPASS' -n '$SRV_NS' status --json | grep -q 'a tcx program not ours runs before the classifier on 1 interface: $SRV_DEV (foreign_pass)'"
	marked0=$(marked)
	backstop0=$(counter backstop)
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	check_eq "requests still work" 10 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 10)"
	check_eq "the classifier saw none of them" "$marked0" "$(marked)"
	check_ge "the backstop untracked them instead" $((backstop0 + 10)) "$(counter backstop)"
	check_eq "still untracked (local arrivals)" 0 "$(port80_entries)"

	check "attach again" ctb attach --ports 80
	check_eq "ours runs first again, the other program kept" "ctb_ingress foreign_pass" "$(tcx_names)"
	check "status: healthy" ctb status
	marked0=$(marked)
	check_eq "requests work" 10 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 10)"
	check_ge "the classifier sees them again" $((marked0 + 10)) "$(marked)"

	# tc scripts that reset the clsact qdisc do not reach tcx.
	tc -n "$SRV_NS" qdisc add dev "$SRV_DEV" clsact && tc -n "$SRV_NS" qdisc del dev "$SRV_DEV" clsact
	check_eq "a clsact qdisc added and deleted" 0 "$?"
	check_eq "ours is still first" "ctb_ingress foreign_pass" "$(tcx_names)"

	check "detach" ctb detach
	check_eq "detach removed only ours" foreign_pass "$(tcx_names)"
	ip netns exec "$SRV_NS" "$TCX_TOOL" detach "$SRV_DEV" "$id"
	check_eq "the foreign program removed by its owner" "" "$(tcx_names)"
}

# An older ctbypass (or one on a kernel before tcx) left its filter on clsact,
# and a tool attached through tcx since: all of its programs run before any
# clsact filter.
test_upgrade_from_clsact() {
	local id
	check "attach" ctb attach --ports 80
	ip netns exec "$SRV_NS" "$TCX_TOOL" detach "$SRV_DEV" \
		"$(ip netns exec "$SRV_NS" "$TCX_TOOL" list "$SRV_DEV" | awk '{ print $2 }')" &&
		tc -n "$SRV_NS" qdisc add dev "$SRV_DEV" clsact &&
		tc -n "$SRV_NS" filter add dev "$SRV_DEV" ingress prio 1 handle 0xc7b1 bpf \
			obj "$CTBT_ROOT/build/bpf/classifier.bpf.o" sec tc direct-action
	check_eq "the classifier moved to clsact, as an older version made it" 0 "$?"
	id=$(ip netns exec "$SRV_NS" "$TCX_TOOL" front "$SRV_DEV" "$PASS_PROG")
	check "and a foreign TCX_PASS program on tcx" test -n "$id"
	check_eq "status --json: hook clsact" clsact "$(status_json | json "d['hook']")"
	check "status reports the tcx program ahead" bash -c \
		"'$CTBYPASS' -n '$SRV_NS' status --json | grep -q 'a tcx program not ours runs before the classifier on 1 interface: $SRV_DEV (foreign_pass)'"
	check "attach" ctb attach --ports 80
	check_eq "the classifier is first on tcx, the other program kept" \
		"ctb_ingress foreign_pass" "$(tcx_names)"
	check_eq "the clsact filter is gone" "" "$(tc -n "$SRV_NS" filter show dev "$SRV_DEV" ingress)"
	check_not "with the clsact qdisc it had made" bash -c \
		"tc -n '$SRV_NS' qdisc show dev '$SRV_DEV' | grep -q clsact"
	check_eq "status --json: hook tcx" tcx "$(status_json | json "d['hook']")"
	check "status: healthy" ctb status
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	check_eq "requests work" 5 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 5)"
	check_eq "untracked" 0 "$(port80_entries)"
	check "detach" ctb detach
	ip netns exec "$SRV_NS" "$TCX_TOOL" detach "$SRV_DEV" "$id"
}

test_hook_matches_kernel
lab_up
start_nginx "$SRV_NS" 80
if tcx_available; then
	test_tcx_first
	test_foreign_in_front
	test_upgrade_from_clsact
else
	test_clsact_kernel
fi
finish
