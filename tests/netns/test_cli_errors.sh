#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Every failure is one line on stderr, exit 2 for bad usage or input and 1 for a
# runtime failure, and leaves the namespace exactly as it was, including an
# attach that fails halfway and a replacement that fails halfway.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd tc bpftool setpriv "$CTBYPASS"

TCX_TOOL=$CTBT_ROOT/build/tools/tcx_tool
EMPTY_PROG=$CTBT_ROOT/build/bpf/empty.bpf.o

snapshot() {
	ip netns exec "$SRV_NS" nft list ruleset
	for dev in "$SRV_DEV" extra0; do
		tc -n "$SRV_NS" qdisc show dev "$dev"
		tc -n "$SRV_NS" filter show dev "$dev" ingress
		ip netns exec "$SRV_NS" "$TCX_TOOL" list "$dev"
	done
}

# expect RC DESCRIPTION ARGS...: ctbypass exits RC with exactly one stderr line
# and the namespace unchanged.
expect() {
	local rc=$1 what=$2 got before after err
	shift 2
	before=$(snapshot 2>&1)
	err=$("$CTBYPASS" "$@" 2>&1 >/dev/null)
	got=$?
	after=$(snapshot 2>&1)
	if [ "$got" -ne "$rc" ]; then
		fail "$what" "exit $got, expected $rc: $err"
	elif [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ] || [[ "$err" != ctbypass:* ]]; then
		fail "$what" "expected one 'ctbypass: ' line on stderr, got: $err"
	elif [ "$before" != "$after" ]; then
		fail "$what" "the namespace changed"
	else
		pass "$what (exit $rc: ${err#ctbypass: })"
	fi
}

test_bad_input() {
	local list
	for list in 0 65536 80-70 abc 80,,81 '' 80, ,80 ' 80' 8.0 99999 1-65536; do
		expect 2 "ports '$list'" -n "$SRV_NS" attach --ports "$list"
	done
	for list in 1.2.3.4 1.2.3.4:0 1.2.3.4/33:80 host:80 '[fd00::1]' fd00::1:80 \
		198.18.0.7/24:80 '1.2.3.4:80,'; do
		expect 2 "upstream '$list'" -n "$SRV_NS" attach --upstream "$list"
	done
	expect 2 "mark 0" -n "$SRV_NS" attach --ports 80 --mark 0
	expect 2 "mark abc" -n "$SRV_NS" attach --ports 80 --mark abc
	expect 2 "mark too wide" -n "$SRV_NS" attach --ports 80 --mark 0x100000000
	expect 2 "proto sctp" -n "$SRV_NS" attach --ports 80 --proto sctp
	expect 2 "unknown interface" -n "$SRV_NS" attach --ports 80 --iface nosuch0
	expect 2 "loopback interface" -n "$SRV_NS" attach --ports 80 --iface lo
	expect 2 "no ports or upstreams" -n "$SRV_NS" attach
	expect 2 "unknown option" -n "$SRV_NS" attach --ports 80 --frob
	expect 2 "unknown command" -n "$SRV_NS" frob
	expect 2 "no command" -n "$SRV_NS"
	expect 2 "unknown namespace" -n ctbt-no-such-ns status
	expect 2 "ports without action" -n "$SRV_NS" ports
	expect 2 "ports add without list" -n "$SRV_NS" ports add
	expect 2 "ports frob" -n "$SRV_NS" ports frob 80
	expect 2 "ports add bad list" -n "$SRV_NS" ports add 80-70
	expect 2 "upstream add bad" -n "$SRV_NS" upstream add host:80
	expect 1 "ports add when not attached" -n "$SRV_NS" ports add 80
}

test_not_root() {
	local err rc
	err=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$CTBYPASS" status 2>&1)
	rc=$?
	check_eq "not root: exit 1" 1 "$rc"
	check "not root: says so in one line" grep -qx 'ctbypass: needs root.*' <<<"$err"
}

test_help_and_version() {
	check "--help exits 0" bash -c "'$CTBYPASS' --help | grep -q '^Usage: ctbypass'"
	check "--version exits 0" bash -c "'$CTBYPASS' --version | grep -q '^ctbypass '"
	for cmd in attach detach ports upstream status; do
		check "$cmd --help exits 0" bash -c "'$CTBYPASS' $cmd --help | grep -q '^Usage: ctbypass'"
	done
}

test_dry_run() {
	local before out
	before=$(snapshot 2>&1)
	out=$("$CTBYPASS" -n "$SRV_NS" attach --ports 80 --dry-run)
	check_eq "dry run exits 0" 0 "$?"
	check "dry run shows the nftables transaction" grep -q 'add table inet ctbypass' <<<"$out"
	check_eq "dry run changes nothing" "$before" "$(snapshot 2>&1)"
}

# Makes attaching our classifier to extra0 fail. On clsact: a foreign filter
# of protocol ip at our TC priority. On tcx: a hook full of other programs
# (the kernel takes 63).
block_extra0() {
	local i
	if ! tcx_available; then
		tc -n "$SRV_NS" qdisc add dev extra0 clsact &&
			tc -n "$SRV_NS" filter add dev extra0 ingress protocol ip prio 1 \
				bpf obj "$EMPTY_PROG" sec tc direct-action
		return
	fi
	for ((i = 0; i < 63; i++)); do
		ip netns exec "$SRV_NS" "$TCX_TOOL" front extra0 "$EMPTY_PROG" >/dev/null || return 1
	done
}

# The foreign programs block_extra0 put there are all still there.
extra0_blocked() {
	if ! tcx_available; then
		tc -n "$SRV_NS" filter show dev extra0 ingress | grep -q ctb_empty
		return
	fi
	[ "$(ip netns exec "$SRV_NS" "$TCX_TOOL" list extra0 | grep -c '^ctb_empty ')" = 63 ]
}

# Our filter fails on extra0, after veth-srv already got one and the nftables
# table exists.
test_halfway_failure() {
	local json
	block_extra0
	check_eq "foreign programs in the classifier's way on extra0" 0 "$?"
	expect 1 "attach failing on the second interface rolls back" \
		-n "$SRV_NS" attach --ports 80 --iface "$SRV_DEV,extra0"
	check "the foreign programs are still there" extra0_blocked

	check "attach on $SRV_DEV" "$CTBYPASS" -n "$SRV_NS" attach --ports 80 --iface "$SRV_DEV"
	expect 1 "a replacement failing halfway restores the previous setup" \
		-n "$SRV_NS" attach --ports 81 --mark 0x20000 --iface "$SRV_DEV,extra0"
	json=$("$CTBYPASS" -n "$SRV_NS" status --json)
	check_eq "status: healthy after the rollback" 0 "$?"
	check "previous ports and mark are back" grep -q '"ports":\[80\].*"mark":4,' <<<"$json"
	check "previous interfaces are back" grep -q "\"interfaces\":\[\"$SRV_DEV\"\]" <<<"$json"
	check "detach" "$CTBYPASS" -n "$SRV_NS" detach
}

lab_up
ip -n "$SRV_NS" link add extra0 type veth peer name extra1 &&
	ip -n "$SRV_NS" link set extra0 up && ip -n "$SRV_NS" link set extra1 up
test_bad_input
test_not_root
test_help_and_version
test_dry_run
test_halfway_failure
finish
