# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Library for namespace tests (tests/netns/test_*.sh): results, a two-namespace
# lab, nginx, conntrack probes, and teardown that runs on every exit path.
#
#   source "$(dirname "$0")/../lib/netns.sh"
#   require_root; need_cmd curl
#   lab_up; start_nginx "$SRV_NS" 80
#   check "curl v4" curl_ok "$CLI_NS" "http://$SRV_IP4/"
#   finish
#
# Results:   pass NAME | fail NAME WHY | check NAME CMD... | check_not NAME CMD... |
#            check_eq NAME EXPECTED ACTUAL | check_ge NAME MIN ACTUAL | finish
# Needs:     require_root | need_cmd CMD... | need_feature NAME CMD...
# Lab:       lab_up | lab_down | lab_conntrack_on NS | lab_add_client_addr ADDR |
#            lab_add_addr NS ADDR | lab_on_down CMD... | lower_ct_max N |
#            hold_ct_max [SECONDS] | ct_max_floor | ct_max_settled
# Processes: lab_bg NS CMD... | lab_track_pid PID | start_nginx NS PORT... |
#            start_trafficgen NS ARGS... | tg NS ARGS... | in_ns NS CMD...
# Probes:    ct_stat NS FIELD | ct_count NS | ct_entries NS [FILTER...] |
#            ct_fill NS N [ARGS...] | curl_many NS URL N | curl_ok NS URL |
#            net_stat NS NAME | wait_until SECONDS CMD... | classifiers NS |
#            classifier_on NS DEV | classifier_id NS DEV | tcx_available
#
# The library owns the EXIT, INT, TERM and HUP traps; add cleanup with
# lab_on_down, not with trap. Keep foreground commands short: bash runs a
# trap only after the foreground command ends (`wait` is interrupted at once).
# Nothing here uses `set -e`; it works with `set -u`.

[ -n "${_CTBT_LIB_LOADED:-}" ] && return 0
_CTBT_LIB_LOADED=1

CTBT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${CTBYPASS:=$CTBT_ROOT/build/ctbypass}"
: "${CTFILL:=$CTBT_ROOT/build/tools/ctfill}"
: "${TRAFFICGEN:=$CTBT_ROOT/build/tools/trafficgen}"
# Survives the test: lock and saved nf_conntrack_max, so parallel or killed
# runs never leave the host's max lowered.
: "${CTBT_STATE_DIR:=/run/ctbt}"

SRV_IP4=198.18.0.1
CLI_IP4=198.18.0.2
SRV_IP6=fd00:c7::1
CLI_IP6=fd00:c7::2
SRV_DEV=veth-srv
CLI_DEV=veth-cli
SRV_NS=
CLI_NS=
export SRV_IP4 CLI_IP4 SRV_IP6 CLI_IP6 SRV_DEV CLI_DEV SRV_NS CLI_NS CTBYPASS CTFILL TRAFFICGEN

PASS_COUNT=0
FAIL_COUNT=0
LAB_BG_PID=
_CTBT_FINISHED=
_CTBT_NS=()
_CTBT_PIDS=()
_CTBT_DOWN_HOOKS=()
_CTBT_CT_MAX_ORIG=
_CTBT_LOCK_FD=
_CTBT_FLOCK_PID=
_CTBT_HOLD=
_CTBT_CT_MAX_FILE=/proc/sys/net/netfilter/nf_conntrack_max
# Only the shell that loaded the library tears down: a subshell signalled
# right after fork can still run the inherited traps.
_CTBT_MAIN_PID=$BASHPID
_CTBT_TMP=$(mktemp -d "/tmp/ctbt-$$.XXXXXX") || { echo "netns.sh: mktemp failed" >&2; exit 1; }
# Results go to the test's real stdout even from inside check's redirection.
exec {_CTBT_OUT}>&1

# ---- results ----

pass() {
	PASS_COUNT=$((PASS_COUNT + 1))
	echo "PASS $1" >&"$_CTBT_OUT"
}

fail() {
	FAIL_COUNT=$((FAIL_COUNT + 1))
	echo "FAIL $1${2:+: $2}" >&"$_CTBT_OUT"
}

# check NAME CMD...: pass if CMD exits 0. CMD runs in this shell (so lab
# functions keep their state); its output is shown only on failure.
check() {
	local name=$1 rc out=$_CTBT_TMP/check.out
	shift
	"$@" >"$out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "exit $rc from: $*"
		sed -n '1,20s/^/    | /p' "$out" >&"$_CTBT_OUT"
	fi
	return $rc
}

# check_not NAME CMD...: pass if CMD fails.
check_not() {
	local name=$1 rc out=$_CTBT_TMP/check.out
	shift
	"$@" >"$out" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		pass "$name"
		return 0
	fi
	fail "$name" "succeeded but should fail: $*"
	sed -n '1,20s/^/    | /p' "$out" >&"$_CTBT_OUT"
	return 1
}

check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
		return 0
	fi
	fail "$1" "expected '$2', got '$3'"
	return 1
}

# check_ge NAME MIN ACTUAL: integer ACTUAL >= MIN.
check_ge() {
	if [[ "$3" =~ ^-?[0-9]+$ ]] && [ "$3" -ge "$2" ]; then
		pass "$1"
		return 0
	fi
	fail "$1" "expected >= $2, got '$3'"
	return 1
}

# finish: tear down, print "N passed, N failed" last, exit 1 if any failed.
finish() {
	lab_down || fail "teardown" "lab_down left something behind (see above)"
	_CTBT_FINISHED=1
	echo "$PASS_COUNT passed, $FAIL_COUNT failed" >&"$_CTBT_OUT"
	[ "$FAIL_COUNT" -eq 0 ] && exit 0
	exit 1
}

# ---- needs: a missing tool or feature fails the test, it is not a skip ----

require_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	fail "require_root" "must run as root"
	finish
}

need_cmd() {
	local c missing=0
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && continue
		# Our own binaries are named by path.
		[ -x "$c" ] && continue
		fail "need_cmd $c" "not found (run: make test, or scripts/install-deps.sh test)"
		missing=1
	done
	[ $missing -eq 0 ] || finish
}

# need_feature NAME CMD...: fail the test if CMD (a probe) fails.
need_feature() {
	local name=$1
	shift
	"$@" >"$_CTBT_TMP/need.out" 2>&1 && return 0
	fail "need_feature $name" "probe failed: $* ($(head -c 200 "$_CTBT_TMP/need.out"))"
	finish
}

# ---- small helpers ----

in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}

_ctbt_pid_alive() {
	kill -0 "$1" 2>/dev/null
}

# TERM, then KILL after ~2 s; reaps our own children.
_ctbt_kill() {
	local pid i
	for pid in "$@"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "$@"; do
		for ((i = 0; i < 20; i++)); do
			_ctbt_pid_alive "$pid" || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 0
}

# ---- processes ----

# Run CMD without the library's private descriptors: a daemon holding the
# ct_max lock or the test's stdout would outlive the test with them.
_ctbt_spawn() {
	[ -n "$_CTBT_LOCK_FD" ] && exec {_CTBT_LOCK_FD}>&-
	exec {_CTBT_OUT}>&-
	exec "$@"
}

lab_track_pid() {
	_CTBT_PIDS+=("$@")
}

# lab_bg NS CMD...: run CMD in NS in the background, output to a log in the
# temp dir; sets LAB_BG_PID and LAB_BG_LOG. Stopped by lab_down.
lab_bg() {
	local ns=$1
	shift
	LAB_BG_LOG=$(mktemp "$_CTBT_TMP/bg.XXXXXX")
	(_ctbt_spawn ip netns exec "$ns" "$@") >"$LAB_BG_LOG" 2>&1 &
	LAB_BG_PID=$!
	lab_track_pid "$LAB_BG_PID"
}

# tg NS ARGS...: run trafficgen in NS in the foreground.
tg() {
	local ns=$1
	shift
	"$TRAFFICGEN" -n "$ns" "$@"
}

# start_trafficgen NS ARGS...: `trafficgen serve ARGS` in NS, waiting until it
# listens. Returns 1 (and shows its log) if it does not come up in 5 s.
start_trafficgen() {
	local ns=$1
	shift
	lab_bg "$ns" "$TRAFFICGEN" serve "$@"
	if wait_until 5 grep -q '^listening' "$LAB_BG_LOG"; then
		return 0
	fi
	echo "start_trafficgen: server did not start: $(head -c 300 "$LAB_BG_LOG")" >&2
	return 1
}

_ctbt_nginx_conf() {
	local dir=$1 port addr m
	shift
	cat <<EOF
worker_processes 1;
$([ -n "${NGINX_WORKER_CONNECTIONS:-}" ] && echo "worker_rlimit_nofile $((NGINX_WORKER_CONNECTIONS * 2));")
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
$([ "$(id -u)" -eq 0 ] && echo "user root;")
events { worker_connections ${NGINX_WORKER_CONNECTIONS:-1024}; }
http {
	access_log off;
	default_type text/plain;
	client_body_temp_path $dir/body;
EOF
	# Debian's compiled-in temp paths may not exist (e.g. in the VM).
	for m in proxy fastcgi uwsgi scgi; do
		nginx -V 2>&1 | grep -q -- "--without-http_${m}_module" ||
			echo "	${m}_temp_path $dir/$m;"
	done
	echo "	server {"
	for port in "$@"; do
		for addr in ${NGINX_ADDRS:-$SRV_IP4 [$SRV_IP6]}; do
			echo "		listen $addr:$port;"
		done
	done
	cat <<'EOF'
		location / { return 200 "ok\n"; }
	}
}
EOF
}

_ctbt_listening() {
	local ns=$1 port=$2
	[ -n "$(ip netns exec "$ns" ss -Hltn "sport = :$port" 2>/dev/null)" ]
}

# start_nginx NS PORT...: nginx in NS listening on $SRV_IP4 and [$SRV_IP6]
# (override with NGINX_ADDRS="addr [v6addr]") on each PORT, answering "ok";
# NGINX_WORKER_CONNECTIONS=N for more than 1,024 connections at once.
start_nginx() {
	local ns=$1 dir pid port
	shift
	dir=$(mktemp -d "$_CTBT_TMP/nginx.XXXXXX")
	_ctbt_nginx_conf "$dir" "$@" >"$dir/nginx.conf"
	need_cmd nginx ss
	if ! (_ctbt_spawn ip netns exec "$ns" nginx -p "$dir" -e "$dir/error.log" \
		-c "$dir/nginx.conf") >"$dir/start.log" 2>&1; then
		echo "start_nginx: $(tail -n 3 "$dir/start.log" "$dir/error.log" 2>/dev/null)" >&2
		return 1
	fi
	wait_until 5 test -s "$dir/nginx.pid"
	pid=$(cat "$dir/nginx.pid" 2>/dev/null)
	[ -n "$pid" ] && lab_track_pid "$pid"
	for port in "$@"; do
		if ! wait_until 5 _ctbt_listening "$ns" "$port"; then
			echo "start_nginx: nothing listens on port $port in $ns" >&2
			return 1
		fi
	done
	# The last nginx's directory (nginx.pid, error.log), for tests to inspect.
	export NGINX_DIR=$dir
}

# ---- lab ----

_ctbt_install_traps() {
	trap '_ctbt_on_exit' EXIT
	trap '_ctbt_on_signal INT 130' INT
	trap '_ctbt_on_signal TERM 143' TERM
	trap '_ctbt_on_signal HUP 129' HUP
}

_ctbt_on_signal() {
	[ "$BASHPID" = "$_CTBT_MAIN_PID" ] || exit "$2"
	trap '' INT TERM HUP
	fail "interrupted" "SIG$1"
	lab_down
	_CTBT_FINISHED=1
	echo "$PASS_COUNT passed, $FAIL_COUNT failed" >&"$_CTBT_OUT"
	exit "$2"
}

_ctbt_on_exit() {
	local rc=$?
	[ "$BASHPID" = "$_CTBT_MAIN_PID" ] || return
	trap '' INT TERM HUP
	lab_down
	if [ -z "$_CTBT_FINISHED" ] && { [ $rc -ne 0 ] || [ $((PASS_COUNT + FAIL_COUNT)) -gt 0 ]; }
	then
		fail "test ended without finish" "exit status $rc"
		echo "$PASS_COUNT passed, $FAIL_COUNT failed" >&"$_CTBT_OUT"
		rc=1
	fi
	if [ -n "${CTBT_KEEP_TMP:-}" ]; then
		# Marked, so later runs do not reap it as a killed run's.
		touch "$_CTBT_TMP/.keep"
		echo "netns.sh: kept $_CTBT_TMP" >&2
	else
		rm -rf "$_CTBT_TMP"
	fi
	exit $rc
}

_ctbt_install_traps

# Remove what runs killed with SIGKILL left: namespaces of dead test shells,
# their temp dirs, and a lowered nf_conntrack_max nobody holds the lock for.
_ctbt_reap_stale() {
	local ns owner pids dir
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ "$ns" =~ ^ctbt-([0-9]+)- ]] || continue
		owner=${BASH_REMATCH[1]}
		_ctbt_pid_alive "$owner" && continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -n "$pids" ] && _ctbt_kill $pids
		ip netns del "$ns" 2>/dev/null
	done
	for dir in /tmp/ctbt-[0-9]*.??????; do
		[[ "$dir" =~ ^/tmp/ctbt-([0-9]+)\. ]] || continue
		_ctbt_pid_alive "${BASH_REMATCH[1]}" || [ -e "$dir/.keep" ] || rm -rf "$dir"
	done
	_ctbt_restore_stale_ct_max
}

# lab_up: namespaces $SRV_NS and $CLI_NS joined by veth-srv/veth-cli with
# $SRV_IP4/24, $CLI_IP4/24, $SRV_IP6/64, $CLI_IP6/64 (nodad), MTU 1500, lo up,
# conntrack on in $SRV_NS. Fails the test (and exits) if any step fails.
lab_up() {
	local out=$_CTBT_TMP/lab_up.out
	require_root
	need_cmd ip nft conntrack
	_ctbt_install_traps
	[ -n "$SRV_NS" ] && lab_down
	_ctbt_reap_stale
	SRV_NS=ctbt-$$-srv
	CLI_NS=ctbt-$$-cli
	# Registered before creation so a failure half-way is cleaned up too.
	_CTBT_NS=("$SRV_NS" "$CLI_NS")
	if ! {
		ip netns add "$SRV_NS" &&
		ip netns add "$CLI_NS" &&
		ip link add "$SRV_DEV" netns "$SRV_NS" mtu 1500 type veth \
			peer name "$CLI_DEV" netns "$CLI_NS" mtu 1500 &&
		ip -n "$SRV_NS" addr add "$SRV_IP4/24" dev "$SRV_DEV" &&
		ip -n "$SRV_NS" addr add "$SRV_IP6/64" dev "$SRV_DEV" nodad &&
		ip -n "$CLI_NS" addr add "$CLI_IP4/24" dev "$CLI_DEV" &&
		ip -n "$CLI_NS" addr add "$CLI_IP6/64" dev "$CLI_DEV" nodad &&
		ip -n "$SRV_NS" link set lo up &&
		ip -n "$CLI_NS" link set lo up &&
		ip -n "$SRV_NS" link set "$SRV_DEV" up &&
		ip -n "$CLI_NS" link set "$CLI_DEV" up &&
		lab_conntrack_on "$SRV_NS"
	} >"$out" 2>&1; then
		fail "lab_up" "$(tr '\n' ' ' <"$out")"
		finish
	fi
	export SRV_NS CLI_NS
}

# lab_conntrack_on NS: a rule that needs conntrack, so NS tracks connections.
lab_conntrack_on() {
	ip netns exec "$1" nft -f - <<'EOF'
table inet lab {
	chain input {
		type filter hook input priority 0; policy accept;
		ct state invalid counter
	}
}
EOF
}

# lab_add_addr NS ADDR[/LEN]: add an address to the lab veth in NS (IPv4 /24,
# IPv6 /64 nodad by default).
lab_add_addr() {
	local ns=$1 addr=$2 dev=$CLI_DEV
	[ "$ns" = "$SRV_NS" ] && dev=$SRV_DEV
	if [[ "$addr" == *:* ]]; then
		[[ "$addr" == */* ]] || addr=$addr/64
		ip -n "$ns" addr add "$addr" dev "$dev" nodad
	else
		[[ "$addr" == */* ]] || addr=$addr/24
		ip -n "$ns" addr add "$addr" dev "$dev"
	fi
}

lab_add_client_addr() {
	lab_add_addr "$CLI_NS" "$1"
}

# lab_on_down CMD...: run CMD (first registered, last run) at teardown.
lab_on_down() {
	_CTBT_DOWN_HOOKS+=("$(printf '%q ' "$@")")
}

# lab_down: undo everything, in reverse order. Idempotent; returns 1 if
# something could not be undone.
lab_down() {
	local i ns pids rc=0
	for ((i = ${#_CTBT_DOWN_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${_CTBT_DOWN_HOOKS[i]}" >/dev/null 2>&1
	done
	_CTBT_DOWN_HOOKS=()
	[ ${#_CTBT_PIDS[@]} -gt 0 ] && _ctbt_kill "${_CTBT_PIDS[@]}"
	_CTBT_PIDS=()
	for ns in "${_CTBT_NS[@]}"; do
		# Anything else the test started in our namespaces.
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -n "$pids" ] && _ctbt_kill $pids
		ip netns del "$ns" 2>/dev/null
		if ip netns list 2>/dev/null | grep -qw "^$ns"; then
			echo "lab_down: namespace $ns still exists" >&2
			rc=1
		fi
	done
	_CTBT_NS=()
	SRV_NS=
	CLI_NS=
	_ctbt_restore_ct_max || rc=1
	# Also a lock hold_ct_max took, or one a signal interrupted the wait for.
	_ctbt_unlock_ct_max
	# And what SIGKILLed runs (ours or not) left, so nothing outlives us.
	_ctbt_reap_stale
	return $rc
}

# ---- nf_conntrack_max (global, initial netns only) ----
#
# Everyone who lowers the max, or needs the host's own max, holds an flock on
# $CTBT_STATE_DIR/ct_max.lock; the original value is saved next to it while
# lowered, so the next run restores it if the owner was SIGKILLed.

_ctbt_lock_ct_max() {
	[ -n "$_CTBT_LOCK_FD" ] && return 0
	mkdir -p "$CTBT_STATE_DIR" || return 1
	exec {_CTBT_LOCK_FD}>"$CTBT_STATE_DIR/ct_max.lock" || return 1
	# flock locks our open file, so a child can take it for us; waiting on
	# the child with `wait` lets a signal's trap run at once.
	flock -w "${1:-120}" "$_CTBT_LOCK_FD" &
	_CTBT_FLOCK_PID=$!
	if ! wait "$_CTBT_FLOCK_PID"; then
		_ctbt_unlock_ct_max
		return 1
	fi
	_CTBT_FLOCK_PID=
}

_ctbt_unlock_ct_max() {
	if [ -n "$_CTBT_FLOCK_PID" ]; then
		kill "$_CTBT_FLOCK_PID" 2>/dev/null
		wait "$_CTBT_FLOCK_PID" 2>/dev/null
		_CTBT_FLOCK_PID=
	fi
	_CTBT_HOLD=
	[ -n "$_CTBT_LOCK_FD" ] || return 0
	exec {_CTBT_LOCK_FD}>&-
	_CTBT_LOCK_FD=
}

# Take the lock (waiting up to $1 s) with no saved original pending: one left
# by a killed owner is restored first (and _CTBT_RESTORED_STALE set).
_ctbt_lock_clean() {
	local _
	_CTBT_RESTORED_STALE=
	for _ in 1 2 3; do
		_ctbt_lock_ct_max "$1" || return 1
		[ -e "$CTBT_STATE_DIR/ct_max.orig" ] || return 0
		_CTBT_RESTORED_STALE=1
		echo "netns.sh: restoring nf_conntrack_max=$(cat "$CTBT_STATE_DIR/ct_max.orig")" \
			"left by a killed test" >&2
		cat "$CTBT_STATE_DIR/ct_max.orig" >"$_CTBT_CT_MAX_FILE" &&
			rm -f "$CTBT_STATE_DIR/ct_max.orig"
	done
	_ctbt_unlock_ct_max
	return 1
}

# A saved max with the lock free: its owner died without restoring it.
_ctbt_restore_stale_ct_max() {
	[ -e "$CTBT_STATE_DIR/ct_max.orig" ] && [ -z "$_CTBT_LOCK_FD" ] || return 0
	command -v flock >/dev/null || return 0
	_ctbt_lock_clean 0
	_ctbt_unlock_ct_max
}

# hold_ct_max [SECONDS]: take the lock lower_ct_max takes, without changing
# the max, until lab_down: for work that needs the host's own max (filling a
# table to it) or a stable ct_max_floor while other tests may run. Waits up to
# SECONDS (120). Returns 1 (and counts a failure) if it cannot.
hold_ct_max() {
	need_cmd flock
	_ctbt_install_traps
	if [ -z "$_CTBT_LOCK_FD" ] && ! _ctbt_lock_clean "${1:-120}"; then
		fail "hold_ct_max" "another test kept nf_conntrack_max lowered for ${1:-120} s"
		return 1
	fi
	_CTBT_HOLD=1
}

# ct_max_floor: the highest conntrack count among the initial netns and every
# named netns but ours. The max is global: below this, someone drops packets.
ct_max_floor() {
	local ns n floor
	floor=$(cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo 0)
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ " ${_CTBT_NS[*]} " == *" $ns "* ]] && continue
		n=$(ip netns exec "$ns" cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null)
		[ -n "$n" ] && [ "$n" -gt "$floor" ] && floor=$n
	done
	echo "$floor"
}

# lower_ct_max N: set the global nf_conntrack_max to N until lab_down (or any
# exit, including signals). Takes the lock first (waiting up to 120 s for a
# test that has it lowered), then refuses N below ct_max_floor + 50, which
# would drop other namespaces' new connections. Returns 1 and counts a
# failure if it cannot.
lower_ct_max() {
	local n=$1 floor saved=$CTBT_STATE_DIR/ct_max.orig
	need_cmd flock
	_ctbt_install_traps
	if ! [[ "$n" =~ ^[0-9]+$ ]] || [ ! -w "$_CTBT_CT_MAX_FILE" ]; then
		fail "lower_ct_max" "bad max '$n', or $_CTBT_CT_MAX_FILE not writable"
		return 1
	fi
	if [ -z "$_CTBT_LOCK_FD" ] && ! _ctbt_lock_clean 120; then
		fail "lower_ct_max" "another test kept nf_conntrack_max lowered for 120 s"
		return 1
	fi
	floor=$(ct_max_floor)
	if [ "$n" -lt $((floor + 50)) ]; then
		fail "lower_ct_max" "refusing max $n: a namespace of the host has $floor entries"
		[ -z "$_CTBT_CT_MAX_ORIG" ] && [ -z "$_CTBT_HOLD" ] && _ctbt_unlock_ct_max
		return 1
	fi
	if [ -z "$_CTBT_CT_MAX_ORIG" ]; then
		_CTBT_CT_MAX_ORIG=$(cat "$_CTBT_CT_MAX_FILE")
		echo "$_CTBT_CT_MAX_ORIG" >"$saved.tmp" && mv "$saved.tmp" "$saved"
	fi
	if ! echo "$n" >"$_CTBT_CT_MAX_FILE"; then
		fail "lower_ct_max" "cannot write $n to $_CTBT_CT_MAX_FILE"
		return 1
	fi
}

# ct_max_settled: print nf_conntrack_max as it is when no test holds it
# lowered, read under the lock (waiting up to 120 s); while we lower it
# ourselves, the saved original. Returns 1 if a killed run's saved original
# was pending (it is restored first).
ct_max_settled() {
	local rc=0
	if [ -n "$_CTBT_CT_MAX_ORIG" ]; then
		echo "$_CTBT_CT_MAX_ORIG"
		return 0
	fi
	if [ -n "$_CTBT_LOCK_FD" ]; then
		cat "$_CTBT_CT_MAX_FILE"
		return 0
	fi
	_ctbt_lock_clean 120 || return 1
	[ -n "$_CTBT_RESTORED_STALE" ] && rc=1
	cat "$_CTBT_CT_MAX_FILE"
	_ctbt_unlock_ct_max
	return $rc
}

_ctbt_restore_ct_max() {
	[ -n "$_CTBT_CT_MAX_ORIG" ] || return 0
	echo "$_CTBT_CT_MAX_ORIG" >"$_CTBT_CT_MAX_FILE" 2>/dev/null
	if [ "$(cat "$_CTBT_CT_MAX_FILE")" != "$_CTBT_CT_MAX_ORIG" ]; then
		echo "lab_down: could not restore nf_conntrack_max=$_CTBT_CT_MAX_ORIG" >&2
		return 1
	fi
	rm -f "$CTBT_STATE_DIR/ct_max.orig"
	_CTBT_CT_MAX_ORIG=
	[ -n "$_CTBT_HOLD" ] || _ctbt_unlock_ct_max
}

# ---- probes ----

# ct_stat NS FIELD: FIELD of `conntrack -S` (drop, early_drop, insert_failed,
# invalid, ...) summed over CPUs.
ct_stat() {
	local out
	# Nothing printed (and status 1) if conntrack cannot read the statistics.
	out=$(ip netns exec "$1" conntrack -S 2>/dev/null) || return 1
	awk -v f="$2" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) s += kv[2] } }
		END { print s + 0 }' <<<"$out"
}

# classifiers NS: ctbypass's classifier on every interface of NS, on either
# hook, one line each: DEV PROG_ID HOOK (tcx or clsact). Two calls in all,
# whatever the number of interfaces (one tc call per interface is minutes
# under the VM lab's emulation): bpftool for clsact filters (Debian 12's
# bpftool predates tcx; later ones list tcx programs too, kind tcx/ingress,
# which are left to tcx_tool), tcx_tool for tcx programs.
classifiers() {
	local ns=$1 clsact tcx
	clsact=$(ip netns exec "$ns" bpftool net show -j) || return 1
	tcx=$(ip netns exec "$ns" "$CTBT_ROOT/build/tools/tcx_tool" dump) || return 1
	python3 -c '
import json, sys
for t in json.loads(sys.argv[1])[0].get("tc", []):
    if t.get("kind", "clsact").startswith("clsact") and t["name"].startswith("ctb_ingress"):
        print(t["devname"], t["id"], "clsact")' "$clsact"
	awk '$2 == "ctb_ingress" { print $1, $3, "tcx" }' <<<"$tcx"
}

# classifier_on NS DEV: true when DEV carries ctbypass's classifier.
classifier_on() {
	classifiers "$1" | awk -v d="$2" '$1 == d { found = 1 } END { exit !found }'
}

# classifier_id NS DEV: the classifier program's id on DEV (the first, if several).
classifier_id() {
	classifiers "$1" | awk -v d="$2" '$1 == d { print $2; exit }'
}

# tcx_available: the running kernel has the tcx hook (6.6 and later), which
# ctbypass then uses instead of clsact.
tcx_available() {
	"$CTBT_ROOT/build/tools/tcx_tool" available
}

# ct_count NS: entries in NS's table (nf_conntrack_count is per netns).
ct_count() {
	ip netns exec "$1" cat /proc/sys/net/netfilter/nf_conntrack_count
}

# ct_entries NS [FILTER...]: number of entries `conntrack -L FILTER...` lists.
ct_entries() {
	local ns=$1
	shift
	ip netns exec "$ns" conntrack -L "$@" 2>/dev/null | grep -c .
}

# ct_fill NS N [ARGS...]: ctfill N entries in NS; prints how many went in and
# returns ctfill's status (1: the table filled first).
ct_fill() {
	local ns=$1 n=$2 out rc
	shift 2
	out=$("$CTFILL" -n "$ns" --count "$n" "$@")
	rc=$?
	echo "${out#inserted }"
	return $rc
}

# curl_many NS URL N: print how many of N requests (2 s each) succeeded.
curl_many() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	ip netns exec "$1" bash -c '
		ok=0
		for ((i = 0; i < $2; i++)); do
			curl -fsg --noproxy "*" -o /dev/null --max-time "${CURL_MAX_TIME:-2}" \
				"$1" && ok=$((ok + 1))
		done
		echo $ok' _ "$2" "$3"
}

# curl_ok NS URL: one request; succeeds if it got a 2xx.
curl_ok() {
	[ "$(curl_many "$1" "$2" 1)" = 1 ]
}

# net_stat NS NAME: a counter from /proc/net/{snmp,snmp6,netstat} in NS, named
# as nstat does (IpReasmOKs, IpFragCreates, Ip6ReasmOKs, TcpExtListenDrops).
net_stat() {
	# shellcheck disable=SC2016 # awk's own variables
	ip netns exec "$1" awk -v want="$2" '
		FILENAME ~ /snmp6$/ { if ($1 == want) v = $2; next }
		{
			p = substr($1, 1, length($1) - 1)
			if (hdr[p] == "") { hdr[p] = $0; next }
			n = split(hdr[p], h)
			for (i = 2; i <= n; i++) if (p h[i] == want) v = $i
			hdr[p] = ""
		}
		END { print v + 0 }' /proc/net/snmp /proc/net/netstat /proc/net/snmp6
}
