#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Proves, without ctbypass, that tests/lib/netns.sh and the test tools do what
# they claim on the running kernel: the lab carries IPv4 and IPv6, a table full
# of ASSURED entries drops new connections, trafficgen's fragmented UDP and
# fixed source ports work, and teardown restores the host on every exit path.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$LIB"

MAX_FILE=/proc/sys/net/netfilter/nf_conntrack_max

require_root
need_cmd curl nginx flock "$CTFILL" "$TRAFFICGEN"

# shellcheck disable=SC2317 # called through check
no_lab_namespaces() {
	! ip netns list | grep -q "^ctbt-$1-"
}

test_lab() {
	check "lab_up" lab_up
	check "server namespace exists" ip netns pids "$SRV_NS"
	check "server has $SRV_IP6 (not tentative)" bash -c \
		"ip -n $SRV_NS -6 addr show dev $SRV_DEV | grep '$SRV_IP6' | grep -qv tentative"
	check_eq "veth MTU" 1500 \
		"$(ip -n "$SRV_NS" -o link show "$SRV_DEV" | sed 's/.* mtu \([0-9]*\) .*/\1/')"
	check "start_nginx 80 8080" start_nginx "$SRV_NS" 80 8080
	check_eq "nginx over IPv4" 3 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 3)"
	check_eq "nginx over IPv6" 3 "$(curl_many "$CLI_NS" "http://[$SRV_IP6]:8080/" 3)"
	check "trafficgen --http against nginx" \
		tg "$CLI_NS" connect --proto tcp --to "$SRV_IP6" --port 80 --http --count 3
	check_ge "conntrack tracks the server namespace" 6 "$(ct_entries "$SRV_NS" -p tcp)"
	check_eq "client namespace tracks nothing" 0 "$(ct_count "$CLI_NS")"
}

# A table full of ASSURED entries: new connections are dropped, `drop` rises.
test_table_full() {
	local max drop0 n nginx_pid

	ORIG_MAX=$(ct_max_settled)
	check_eq "no saved max left by a killed run" 0 "$?"
	# With the lock, no other test lowers the max or fills to it meanwhile.
	check "hold_ct_max" hold_ct_max || return
	check_eq "host's own max read under the lock" "$ORIG_MAX" "$(ct_max_settled)"
	# Earlier requests left TIME_WAIT entries, which GC evicts from a nearly
	# full table (tcp_can_early_drop); with only ESTABLISHED ones, full is full.
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	# Headroom for namespaces of tests running alongside: the max is global.
	max=$(($(ct_max_floor) + 2000))
	check "lower_ct_max $max" lower_ct_max "$max" || return
	check_eq "nf_conntrack_max lowered" "$max" "$(cat "$MAX_FILE")"
	drop0=$(ct_stat "$SRV_NS" drop)
	n=$(ct_fill "$SRV_NS" $((max + 1)) --dport 443)
	check_eq "ctfill exits 1 when the table fills" 1 "$?"
	check_eq "ctfill inserted exactly the max" "$max" "$n"
	check_eq "ct_count is the max" "$max" "$(ct_count "$SRV_NS")"
	check_eq "filled entries are ASSURED ESTABLISHED" "$max" \
		"$(in_ns "$SRV_NS" conntrack -L -p tcp --dport 443 --state ESTABLISHED 2>/dev/null |
			grep -c ASSURED)"
	check_not "curl fails with a full table" curl_ok "$CLI_NS" "http://$SRV_IP4/"
	check_ge "drop statistic rises" $((drop0 + 1)) "$(ct_stat "$SRV_NS" drop)"
	nginx_pid=$(cat "$NGINX_DIR/nginx.pid")
	check "lab_down" lab_down
	check_eq "nf_conntrack_max restored by lab_down" "$ORIG_MAX" "$(ct_max_settled)"
	check "namespaces deleted by lab_down" no_lab_namespaces $$
	check_not "nginx stopped by lab_down" kill -0 "$nginx_pid"
}

test_trafficgen() {
	local reasm0 out

	check "lab_up again" lab_up
	check "start_trafficgen udp 5353" start_trafficgen "$SRV_NS" --proto udp --port 5353
	check "start_trafficgen tcp 8081" start_trafficgen "$SRV_NS" --proto tcp --port 8081
	reasm0=$(net_stat "$SRV_NS" IpReasmOKs)
	check "udp 3000-byte echo over IPv4" tg "$CLI_NS" connect --proto udp --to "$SRV_IP4" \
		--port 5353 --size 3000 --count 3
	check_ge "IPv4 datagrams arrived fragmented" $((reasm0 + 3)) \
		"$(net_stat "$SRV_NS" IpReasmOKs)"
	check "udp 3000-byte echo over IPv6" tg "$CLI_NS" connect --proto udp --to "$SRV_IP6" \
		--port 5353 --size 3000 --count 3
	check_ge "IPv6 datagrams left fragmented" 3 "$(net_stat "$CLI_NS" Ip6FragCreates)"
	check_eq "udp echo left one entry per family" 2 \
		"$(ct_entries "$SRV_NS" -p udp --dport 5353)"
	check "tcp from port 3128" tg "$CLI_NS" connect --proto tcp --to "$SRV_IP4" --port 8081 \
		--sport 3128 --count 3
	check_eq "entry from port 3128" 1 "$(ct_entries "$SRV_NS" -p tcp --sport 3128 --dport 8081)"
	check "lab_add_client_addr 198.18.0.3" lab_add_client_addr 198.18.0.3
	check "udp from 198.18.0.3:3128" tg "$CLI_NS" connect --proto udp --to "$SRV_IP4" \
		--port 5353 --bind 198.18.0.3 --sport 3128 --count 2
	check_eq "entry from 198.18.0.3:3128" 1 \
		"$(ct_entries "$SRV_NS" -p udp -s 198.18.0.3 --sport 3128)"
	check "tcp from [fd00:c7::2]:3128" tg "$CLI_NS" connect --proto tcp --to "$SRV_IP6" \
		--port 8081 --bind "$CLI_IP6" --sport 3128
	out=$(tg "$CLI_NS" connect --proto udp --to "$SRV_IP4" --port 5999 --count 2 \
		--timeout-ms 300 2>/dev/null)
	check_eq "trafficgen exits 1 on failures" 1 "$?"
	check_eq "trafficgen reports failures" "ok=0 fail=2" "$out"
	"$TRAFFICGEN" connect --proto sctp --to "$SRV_IP4" --port 1 >/dev/null 2>&1
	check_eq "trafficgen usage error exits 2" 2 "$?"
	"$CTFILL" --count x >/dev/null 2>&1
	check_eq "ctfill usage error exits 2" 2 "$?"
	check "lab_down" lab_down
}

# The teardown a test gets when it is stopped by SIG: run a lab in a child
# test, signal it, and look for leftovers from outside.
# shellcheck disable=SC2016 # expanded by the child
CHILD='
source "$1"
lab_up
start_nginx "$SRV_NS" 80 || exit 3
start_trafficgen "$SRV_NS" --proto udp --port 5353 || exit 3
max=$(($(ct_max_floor) + 1000))
lower_ct_max $max || exit 3
lab_bg "$SRV_NS" sleep 20
echo "$(cat "$NGINX_DIR/nginx.pid") $max" >"$2"
wait "$LAB_BG_PID"
'

# Ready, or gone (then wait_until stops too, and the ready file is empty).
# shellcheck disable=SC2317 # called through wait_until
child_ready() {
	test -s "$1" || ! kill -0 "$2" 2>/dev/null
}

test_teardown_on() {
	local sig=$1 want_rc=$2 ready log cpid nginx_pid child_max rc watchdog

	ready=$(mktemp)
	log=$(mktemp)
	# Job control gives the child default SIGINT handling, as in a terminal.
	set -m
	bash -c "$CHILD" child "$LIB" "$ready" >"$log" 2>&1 &
	cpid=$!
	set +m
	# If we are stopped meanwhile, our teardown stops the child (and it its lab).
	lab_track_pid "$cpid"
	# Up to lower_ct_max's 120 s: another test may hold the max lowered.
	wait_until 150 child_ready "$ready" "$cpid"
	read -r nginx_pid child_max <"$ready"
	if [ -z "$child_max" ]; then
		fail "SIG$sig: child lab came up" "$(tail -n 5 "$log" | tr '\n' ' ')"
		kill -KILL "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
		_ctbt_reap_stale
		rm -f "$ready" "$log"
		return
	fi
	check_eq "SIG$sig: child lowered the max" "$child_max" "$(cat "$MAX_FILE")"
	kill "-$sig" "$cpid"
	(sleep 15 && kill -KILL "$cpid") 2>/dev/null &
	watchdog=$!
	{ wait "$cpid"; } 2>/dev/null
	rc=$?
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
	if [ "$sig" = KILL ]; then
		# The child could not clean up: what follows is the next run's work.
		check "next lab_up reaps what the child left" lab_up
		check "lab_down" lab_down
	else
		check_eq "SIG$sig: child exit status" "$want_rc" "$rc"
		check_eq "SIG$sig: child printed its summary last" 1 \
			"$(tail -n 1 "$log" | grep -c ' passed, [1-9][0-9]* failed$')"
	fi
	check "SIG$sig: child namespaces gone" no_lab_namespaces "$cpid"
	check_not "SIG$sig: child nginx gone" kill -0 "$nginx_pid"
	if [ "$sig" = KILL ]; then
		# Whoever takes the lock next restores it: us, or a test alongside.
		check_eq "SIGKILL: nf_conntrack_max restored" "$ORIG_MAX" "$(ct_max_settled)"
	else
		check_eq "SIG$sig: nf_conntrack_max restored, saved copy removed" "$ORIG_MAX" \
			"$(ct_max_settled || echo "saved copy left")"
	fi
	rm -f "$ready" "$log"
}

test_lab
test_table_full
test_trafficgen
test_teardown_on TERM 143
test_teardown_on INT 130
test_teardown_on KILL 137
finish
