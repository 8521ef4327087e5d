#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The daemon's inserts metric on the tracing backends, in the VM lab (the host
# forbids fentry and kprobes): with telemetry fentry, then kprobe, N new
# connections in the namespace raise ctbypass_conntrack_inserts_total by
# exactly N (the scrapes themselves go to a bypassed port, so they insert
# nothing); auto picks fentry; the backend is named; no event is lost. Before 5.11
# (no module BTF) telemetry = fentry stops the daemon with one line saying why, and
# auto picks kprobe.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"
# shellcheck source=../lib/kernel.sh
source "$(dirname "$LIB")/kernel.sh"

require_root
need_cmd curl bpftool "$CTBYPASS" "$TRAFFICGEN"

CONF=$_CTBT_TMP/ctbypass.conf
MPORT=10127
N=25
DPID=
LOG=
scrape() { in_ns "$SRV_NS" curl -sf --noproxy '*' --max-time 5 "http://127.0.0.1:$MPORT/metrics"; }
metric() { scrape | awk -v m="$1" '$1 == m { print $2 }'; }

daemon_start() {
	LOG=$(mktemp "$_CTBT_TMP/daemon.XXXXXX")
	(_ctbt_spawn "$CTBYPASS" -n "$SRV_NS" daemon --config "$CONF" "$@") >"$LOG" 2>&1 &
	DPID=$!
	lab_track_pid "$DPID"
	wait_until 60 grep -q "running (pid $DPID)" "$LOG"
}

# sample_newer TS: waits until the published sample is newer than TS.
sample_newer() {
	local deadline=$((SECONDS + 20)) ts
	while [ $SECONDS -lt $deadline ]; do
		ts=$(metric ctbypass_sample_timestamp_seconds)
		[ -n "$ts" ] && awk -v a="$ts" -v b="$1" 'BEGIN { exit !(a > b) }' && return 0
		sleep 0.5
	done
	return 1
}

workload() {
	local telemetry=$1 i0 i1 t
	printf 'ports = %s\nmetrics-interval = 1\ntelemetry = %s\n' $MPORT "$telemetry" >"$CONF"
	check "$telemetry: the daemon starts" daemon_start || { cat "$LOG"; return; }
	check "$telemetry: /metrics answers" wait_until 20 scrape
	check_eq "$telemetry: the backend is named" 1 \
		"$(metric "ctbypass_telemetry_backend_info{backend=\"$telemetry\"}")"
	t=$(date +%s)
	check "$telemetry: a first sample" sample_newer "$t"
	i0=$(metric ctbypass_conntrack_inserts_total)
	check "$telemetry: the inserts metric is there" test -n "$i0"
	tg "$CLI_NS" connect --proto tcp --to "$SRV_IP4" --port 8080 --count $N >/dev/null
	sleep 1
	t=$(date +%s)
	check "$telemetry: a sample after the connections" sample_newer "$t"
	i1=$(metric ctbypass_conntrack_inserts_total)
	check_eq "$telemetry: $N connections, $N inserts" $N $((i1 - i0))
	check_eq "$telemetry: no event lost" 0 "$(metric ctbypass_lost_events_total)"
	_ctbt_kill "$DPID"
	check_not "$telemetry: nothing stays loaded after SIGTERM" bash -c \
		"bpftool prog show 2>/dev/null | grep -q 'ct_alloc\|ct_confirm'"
	"$CTBYPASS" -n "$SRV_NS" detach >/dev/null 2>&1
}

# Before 5.11: telemetry = fentry cannot run; the daemon exits 1 with one line.
fentry_refused() {
	local rc=0 out
	printf 'ports = %s\nmetrics-interval = 1\ntelemetry = fentry\n' $MPORT >"$CONF"
	out=$(timeout 60 "$CTBYPASS" -n "$SRV_NS" daemon --config "$CONF" 2>&1) || rc=$?
	echo "  the daemon said: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
	check_eq "fentry before 5.11: the daemon exits 1" 1 "$rc"
	check "fentry before 5.11: one line names the missing module BTF" \
		grep -q "telemetry fentry cannot run: the kernel has no BTF for the nf_conntrack module" \
		<<<"$out"
	check_not "fentry before 5.11: no libbpf or verifier output" \
		grep -qi "libbpf\|verifier" <<<"$out"
	"$CTBYPASS" -n "$SRV_NS" detach >/dev/null 2>&1
}

lab_up
start_trafficgen "$SRV_NS" --proto tcp --port 8080 || fail "trafficgen" "did not start"
kernel_has_fentry_conntrack || fentry_refused
for b in $(kernel_probe_backends); do
	workload "$b"
done
best=$(kernel_probe_backends | cut -d' ' -f1)
printf 'ports = %s\nmetrics-interval = 1\n' $MPORT >"$CONF"
check "auto: the daemon starts" daemon_start
check "auto: /metrics answers" wait_until 20 scrape
check_eq "auto picks $best" 1 "$(metric "ctbypass_telemetry_backend_info{backend=\"$best\"}")"
_ctbt_kill "$DPID"
lab_down
finish
