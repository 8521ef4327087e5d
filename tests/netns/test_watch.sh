#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `ctbypass watch` with the netlink backend (the one that runs everywhere) against
# the real kernel: new connections into a namespace whose table is pushed past
# the max. Its inserts equal the entries the workload created, its drops, early
# drops and insert failures the kernel's statistics, the top drop source is the
# client that caused them; `bypassed` follows ctbypass; Ctrl-C and SIGTERM leave
# nothing loaded. tests/vm/test_watch_probes.sh runs the same workload on the
# fentry and kprobe backends.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"
# shellcheck source=../lib/watch.sh
source "$(dirname "$LIB")/watch.sh"

require_root
need_cmd bpftool "$CTBYPASS" "$CTFILL" "$TRAFFICGEN"

test_usage() {
	local rc
	"$CTBYPASS" watch --interval 0 >/dev/null 2>&1
	check_eq "--interval 0 is a usage error" 2 $?
	"$CTBYPASS" watch --backend bogus >/dev/null 2>&1
	check_eq "--backend bogus is a usage error" 2 $?
	"$CTBYPASS" watch --top 0 >/dev/null 2>&1
	check_eq "--top 0 is a usage error" 2 $?
	"$CTBYPASS" -n ctbt-no-such-ns watch --count 1 >/dev/null 2>&1
	rc=$?
	check_eq "unknown namespace is a usage error" 2 $rc
	check "watch --help" bash -c "'$CTBYPASS' watch --help | grep -q -- --backend"
}

test_table_full() {
	watch_workload netlink
}

test_bypassed() {
	local out
	check "bypassed is null when ctbypass is not attached" bash -c \
		"'$CTBYPASS' -n '$SRV_NS' watch --json --count 1 --interval 0.2 2>/dev/null | grep -q '\"bypassed\":null'"
	check "attach --ports 80" "$CTBYPASS" -n "$SRV_NS" attach --ports 80
	watch_start netlink --interval 0.5
	tg "$CLI_NS" connect --proto tcp --to "$SRV_IP4" --port 80 --count 10 \
		--timeout-ms 1000 >/dev/null
	sleep 0.7
	watch_stop INT
	# Ten connections: at least their SYN, final ACK and FIN, in and out.
	check_ge "bypassed counts the bypassed packets" 30 "$(watch_sum bypassed)"
	check_eq "bypassed connections created no entry" 0 "$(watch_sum inserts)"
	check_eq "and none was dropped" 0 "$(watch_sum drops)"
	check "detach" "$CTBYPASS" -n "$SRV_NS" detach
	out=$("$CTBYPASS" -n "$SRV_NS" watch --count 1 --interval 0.2 2>/dev/null)
	check "text output has a header and one line" \
		test "$(wc -l <<<"$out")" -eq 2 -a "$(head -c 4 <<<"$out")" = time
}

test_sigterm_leaves_nothing() {
	watch_start auto --top 2
	watch_stop TERM
	check_eq "SIGTERM: exit status 0" 0 "$WATCH_RC"
	check_ge "SIGTERM: the interval under way was printed" 1 "$(grep -c . "$WATCH_OUT")"
	check_not "SIGTERM: no BPF program left" watch_progs_loaded
}

lab_up
test_usage
test_table_full
test_bypassed
test_sigterm_leaves_nothing
finish
