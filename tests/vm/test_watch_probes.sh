#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `ctbypass watch` on the tracing backends, in the VM lab (the host forbids
# fentry and kprobes): the table-full workload of tests/netns/test_watch.sh under
# fentry and under kprobe, each checked against the kernel's statistics; then
# fentry, kprobe and netlink watching one workload at once, which must agree on
# inserts and drops; a probe point this kernel lacks shows as unavailable with
# its reason; SIGTERM leaves nothing loaded. On a kernel without what a backend
# needs (fentry: module BTF, 5.11; drop detail: kfree_skb's reason, 5.17) the check
# is that ctbypass says so in one line and uses what works.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"
# shellcheck source=../lib/watch.sh
source "$(dirname "$LIB")/watch.sh"

require_root
need_cmd bpftool "$CTBYPASS" "$CTFILL" "$TRAFFICGEN"

PROBES=$(kernel_probe_backends)

start_three() {
	local b
	for b in $PROBES netlink; do
		watch_start -N "$b" "$b" --top 3 || return 1
	done
}

test_each_backend() {
	local b
	for b in $PROBES; do
		watch_workload "$b"
		echo "  $b said: $(tr '\n' ' ' <"$_CTBT_TMP/watch-main.err")"
		check_not "$b: no probe point is unavailable but early_drop" \
			grep -Ev "early_drops unavailable|using the" "$_CTBT_TMP/watch-main.err"
	done
}

test_backends_agree() {
	local b ins drops
	if ! watch_workload_run start_three; then
		fail "three backends at once" "could not set up the workload"
		return
	fi
	watch_workload_sane "three backends"
	sleep 0.5
	for b in $PROBES netlink; do
		watch_stop -N "$b" INT
		check_eq "$b (of three): exit status 0" 0 "$WATCH_RC"
	done
	if kernel_has_drop_reason; then
		check_not "netlink --top: drops attributed to sources" \
			grep -q "not attributed" "$_CTBT_TMP/watch-netlink.err"
	else
		check "netlink --top: drops not attributed, said in one line (no drop reason before 5.17)" \
			grep -q "not attributed to sources: skb:kfree_skb has no drop reason on this kernel (Linux 5.17)" \
			"$_CTBT_TMP/watch-netlink.err"
		check_not "netlink --top: no libbpf or verifier output" \
			grep -qi "libbpf\|verifier\|invalid func" "$_CTBT_TMP/watch-netlink.err"
	fi
	ins=$(watch_sum -N netlink inserts)
	drops=$(watch_sum -N netlink drops)
	check_eq "netlink (of three): inserts equal the connections that got an entry" "$WL_OK" "$ins"
	check_eq "netlink (of three): drops equal the kernel's" "$WL_DROPS" "$drops"
	for b in $PROBES; do
		check_eq "$b and netlink report the same inserts" "$ins" "$(watch_sum -N "$b" inserts)"
		check_eq "$b and netlink report the same drops" "$drops" "$(watch_sum -N "$b" drops)"
		check_eq "$b and netlink agree on the top drop source" "$CLI_IP4" \
			"$(watch_top_drop_source -N "$b")"
	done
	for b in $PROBES netlink; do
		check_eq "$b (of three): no events lost" 0 "$(watch_sum -N "$b" lost_events)"
	done
	check_not "three backends: nothing stays loaded" watch_progs_loaded
}

test_sigterm() {
	local b
	for b in $PROBES; do
		watch_start "$b" --top 2 --interval 0.5 || continue
		check "$b: its programs are loaded while it runs" watch_progs_loaded
		watch_stop TERM
		check_eq "$b: SIGTERM: exit status 0" 0 "$WATCH_RC"
		check_not "$b: SIGTERM: nothing stays loaded" watch_progs_loaded
	done
}

test_auto_picks_fentry() {
	local out
	out=$("$CTBYPASS" -v -n "$SRV_NS" watch --json --count 1 --interval 0.2 2>&1 >/dev/null)
	if kernel_has_fentry_conntrack; then
		check "auto picks fentry here" grep -q "using the fentry backend" <<<"$out"
		return
	fi
	check "auto picks kprobe here (no module BTF before 5.11)" \
		grep -q "using the kprobe backend" <<<"$out"
	check "-v says why not fentry" grep -q "fentry.*no BTF for the nf_conntrack module" <<<"$out"
}

# Before 5.11: asked for fentry, watch says why not in one line, nothing else.
test_fentry_refused() {
	local rc=0 err
	kernel_has_fentry_conntrack && return 0
	err=$("$CTBYPASS" -n "$SRV_NS" watch --backend fentry --count 1 2>&1 >/dev/null) || rc=$?
	echo "  fentry said: $err"
	check_eq "--backend fentry before 5.11: exit 1" 1 "$rc"
	check_eq "--backend fentry before 5.11: one line" 1 "$(wc -l <<<"$err")"
	check "--backend fentry before 5.11: names the missing module BTF" \
		grep -q "no BTF for the nf_conntrack module (module BTF: Linux 5.11)" <<<"$err"
	check_not "--backend fentry before 5.11: nothing stays loaded" watch_progs_loaded
}

lab_up
test_auto_picks_fentry
test_fentry_refused
test_each_backend
test_backends_agree
test_sigterm
finish
