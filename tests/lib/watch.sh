# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for `ctbypass watch` tests, on top of netns.sh (source that first):
#
#   watch_start [-N NAME] BACKEND [ARGS...]   run `watch --json` on $SRV_NS in the
#                                             background until it has attached
#   watch_stop [-N NAME] SIGNAL               stop it; sets WATCH_RC
#   watch_sum [-N NAME] FIELD                 FIELD summed over its JSON lines
#   watch_last [-N NAME] FIELD                FIELD of its last line
#   watch_top_drop_source [-N NAME]           the source with most drops, all intervals
#   watch_progs_loaded                        true if a watch BPF program is loaded
#   watch_workload BACKEND                    the table-full workload and its checks
#   watch_workload_run STARTER...             the workload alone, STARTER starting watchers
#
# NAME (default "main") lets several watchers run at once; their output is in
# $_CTBT_TMP/watch-NAME.{out,err}, and WATCH_OUT names the last one started.

# shellcheck source=kernel.sh
source "$(dirname "${BASH_SOURCE[0]}")/kernel.sh" # what depends on the kernel

declare -A _WATCH_PID=()
WATCH_RC=
WATCH_OUT=
NOISE_IP4=${NOISE_IP4:-198.18.0.3}
_WATCH_SERVER=

_watch_name() { # sets NAME and SHIFTS from an optional -N NAME
	NAME=main
	SHIFTS=0
	if [ "${1:-}" = -N ]; then
		NAME=$2
		SHIFTS=2
	fi
}

watch_start() {
	local NAME SHIFTS backend out err
	_watch_name "$@"
	shift "$SHIFTS"
	backend=$1
	shift
	out=$_CTBT_TMP/watch-$NAME.out
	err=$_CTBT_TMP/watch-$NAME.err
	: >"$out"
	: >"$err"
	(_ctbt_spawn "$CTBYPASS" -n "$SRV_NS" watch --json --backend "$backend" "$@") \
		>"$out" 2>"$err" &
	_WATCH_PID[$NAME]=$!
	lab_track_pid "$!"
	WATCH_OUT=$out
	# It names its backend once everything is attached.
	if ! wait_until 30 grep -q "using the .* backend" "$err"; then
		fail "watch $backend started" "$(head -c 300 "$err")"
		return 1
	fi
}

watch_stop() {
	local NAME SHIFTS pid i
	_watch_name "$@"
	shift "$SHIFTS"
	pid=${_WATCH_PID[$NAME]:-}
	WATCH_RC=
	[ -n "$pid" ] || return 1
	kill -"$1" "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$pid" 2>/dev/null
	WATCH_RC=$?
	unset "_WATCH_PID[$NAME]"
	WATCH_OUT=$_CTBT_TMP/watch-$NAME.out
}

watch_sum() {
	local NAME SHIFTS
	_watch_name "$@"
	shift "$SHIFTS"
	grep -o "\"$1\":[0-9]*" "$_CTBT_TMP/watch-$NAME.out" | awk -F: '{ s += $2 } END { print s + 0 }'
}

watch_last() {
	local NAME SHIFTS
	_watch_name "$@"
	shift "$SHIFTS"
	tail -n 1 "$_CTBT_TMP/watch-$NAME.out" | grep -o "\"$1\":[^,}]*" | cut -d: -f2
}

watch_top_drop_source() {
	local NAME SHIFTS
	_watch_name "$@"
	shift "$SHIFTS"
	sed -n 's/.*"top_sources":{"new":\[[^]]*\],"drops":\[\([^]]*\)\].*/\1/p' \
		"$_CTBT_TMP/watch-$NAME.out" | tr -d '{}"' | tr ',' '\n' | grep . | paste -d' ' - - |
		awk '{ split($1, a, ":"); split($2, c, ":"); n[a[2]] += c[2] }
		     END { for (k in n) if (n[k] > best) { best = n[k]; top = k }; print top }'
}

watch_progs_loaded() {
	bpftool prog show 2>/dev/null |
		grep -Eq 'name (ct_(alloc|confirm|early_drop|destroy)|kfree_skb_nf)'
}

# watch_workload_run STARTER...: fill the table to 12 below the max, run STARTER
# (start the watchers), then 30 connections from the client and 6 from a second
# address, each SYN timing out before it would be sent again (one drop per
# failed attempt). Sets WL_* for the checks.
watch_workload_run() {
	local max out
	if [ -z "$_WATCH_SERVER" ]; then
		lab_add_client_addr "$NOISE_IP4" || return 1
		# The client's namespace tracks its side of every connection: the
		# kernel-side namespace filter must keep those entries out.
		lab_conntrack_on "$CLI_NS" || return 1
		start_trafficgen "$SRV_NS" --proto tcp --port 80 --duration 3600 || return 1
		_WATCH_SERVER=1
	fi
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	# The client's table is under the same global max: keep it near empty.
	in_ns "$CLI_NS" conntrack -F >/dev/null 2>&1
	WL_CLI_DROP0=$(ct_stat "$CLI_NS" drop)
	max=$(($(ct_max_floor) + 60))
	lower_ct_max "$max" || return 1
	ct_fill "$SRV_NS" $((max - 12)) --dport 443 >/dev/null
	WL_MAX=$max
	"$@" || return 1 # start the watchers
	WL_DROP0=$(ct_stat "$SRV_NS" drop)
	WL_EARLY0=$(ct_stat "$SRV_NS" early_drop)
	WL_FAILED0=$(ct_stat "$SRV_NS" insert_failed)
	WL_COUNT0=$(ct_count "$SRV_NS")
	out=$(tg "$CLI_NS" connect --proto tcp --to "$SRV_IP4" --port 80 --count 30 --timeout-ms 500 2>/dev/null)
	WL_OK=$(sed -n 's/^ok=\([0-9]*\).*/\1/p' <<<"$out")
	out=$(tg "$CLI_NS" connect --proto tcp --to "$SRV_IP4" --port 80 --count 6 \
		--timeout-ms 500 --bind "$NOISE_IP4" 2>/dev/null)
	WL_OK=$((WL_OK + $(sed -n 's/^ok=\([0-9]*\).*/\1/p' <<<"$out")))
	WL_DROPS=$(($(ct_stat "$SRV_NS" drop) - WL_DROP0))
	WL_EARLY=$(($(ct_stat "$SRV_NS" early_drop) - WL_EARLY0))
	WL_FAILED=$(($(ct_stat "$SRV_NS" insert_failed) - WL_FAILED0))
	WL_COUNT1=$(ct_count "$SRV_NS")
	WL_CLI_DROPS=$(($(ct_stat "$CLI_NS" drop) - WL_CLI_DROP0))
}

# watch_workload_sane NAME: the workload did what it is meant to.
watch_workload_sane() {
	check_ge "$1: the workload had packets dropped" 10 "$WL_DROPS"
	check_ge "$1: and connections that got through" 5 "$WL_OK"
	check_eq "$1: none dropped by the client's own table" 0 "$WL_CLI_DROPS"
}

# watch_check NAME BACKEND: one watcher's totals against the kernel's.
watch_check() {
	local n=$1 b=$2 ins des
	ins=$(watch_sum -N "$n" inserts)
	des=$(watch_sum -N "$n" destroys)
	check_eq "$b: exit status 0 on SIGINT" 0 "$WATCH_RC"
	check_eq "$b: inserts equal the connections that got an entry" "$WL_OK" "$ins"
	check_eq "$b: entries grew by inserts - destroys" $((WL_COUNT1 - WL_COUNT0)) $((ins - des))
	check_eq "$b: drops equal the kernel's drop delta" "$WL_DROPS" "$(watch_sum -N "$n" drops)"
	check_eq "$b: insert failures equal the kernel's" "$WL_FAILED" \
		"$(watch_sum -N "$n" insert_failed)"
	if grep -q '"early_drops":null' "$_CTBT_TMP/watch-$n.out"; then
		check "$b: early_drops unavailable, with the reason" \
			grep -q "early_drops unavailable: ." "$_CTBT_TMP/watch-$n.err"
	else
		check_eq "$b: early drops equal the kernel's" "$WL_EARLY" \
			"$(watch_sum -N "$n" early_drops)"
	fi
	if [ "$b" = netlink ] && ! kernel_has_drop_reason; then
		check "$b: drops not attributed before 5.17 (no kfree_skb drop reason), said once" \
			grep -q "not attributed to sources: skb:kfree_skb has no drop reason" \
			"$_CTBT_TMP/watch-$n.err"
	else
		check_eq "$b: the top drop source is the client" "$CLI_IP4" \
			"$(watch_top_drop_source -N "$n")"
	fi
	check_eq "$b: max is nf_conntrack_max" "$WL_MAX" "$(watch_last -N "$n" max)"
	check_eq "$b: entries is the namespace's count" "$WL_COUNT1" "$(watch_last -N "$n" entries)"
	check_eq "$b: no events lost" 0 "$(watch_sum -N "$n" lost_events)"
}

# watch_workload BACKEND: the workload under one watcher, and every check.
watch_workload() {
	local b=$1
	if ! watch_workload_run watch_start "$b" --top 3; then
		fail "$b: workload" "could not set it up"
		return 1
	fi
	watch_workload_sane "$b"
	sleep 0.5
	watch_stop INT
	watch_check main "$b"
	check_not "$b: nothing stays loaded after SIGINT" watch_progs_loaded
}
