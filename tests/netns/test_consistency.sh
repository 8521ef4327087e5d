#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Never half-track a flow, with `ct state invalid drop` in the input chain (as
# firewalld, ufw and most hand-written rulesets have), against the real kernel:
# (a) an interface created after attach: 0 of 40 requests through it fail and
#     no conntrack entry for the bypassed port appears (the backstop untracks
#     what the classifier never saw), and status says the backstop was used;
# (b) steady traffic while ports and upstreams are added, removed, re-attached
#     (the mark too) and detached 50 times: no request fails, no INVALID drop,
#     and no half-tracked entry (SYN_SENT, UNREPLIED) is left;
# (c) a packet carrying our bit through an interface without the classifier is
#     tracked as usual, and no packet carries our bit past prerouting while
#     attached, bridged traffic with br_netfilter included;
# (d) an upstream covering every address (0.0.0.0/0:443) is refused with the
#     explanation, and accepted only with --force.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd curl nginx nft python3 tc "$CTBYPASS" "$TRAFFICGEN"

# Connections each client makes: enough to outlast the changes (about 20 s
# here); changes under traffic, fewer under the VM lab's emulation.
CLIENT_CONNS=${CLIENT_CONNS:-200000}
CHANGES=${CTB_CHANGES:-$([ -n "${CTBYPASS_VM:-}" ] && echo 10 || echo 40)}
CYCLES=${CTB_CYCLES:-$([ -n "${CTBYPASS_VM:-}" ] && echo 4 || echo 5)}
# Under the VM lab's emulation, clients back to back starve every command of
# CPU: there they pause between connections (a steady load, not a flood).
if [ -n "${CTBYPASS_VM:-}" ]; then
	CLIENT_CONNS=1000000
	CLIENT_PACE=(--pause-ms "${CTB_CLIENT_PAUSE_MS:-20}")
else
	CLIENT_PACE=()
fi
LATE_NS=
LATE_SRV=198.18.2.1
LATE_CLI=198.18.2.2

ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# A firewall as the distributions ship it, with a counter per port we watch.
firewall_up() {
	ip netns exec "$SRV_NS" nft -f - <<'EOF2'
table inet fw {
	chain input {
		type filter hook input priority filter; policy accept;
		ct state invalid tcp dport 80 counter drop comment "80"
		ct state invalid tcp dport 8080 counter drop comment "8080"
		ct state invalid tcp dport 81 counter drop comment "81"
		ct state invalid counter drop comment "all"
	}
}
EOF2
}
invalid_drops() { # PORT, or all
	ip netns exec "$SRV_NS" nft -j list chain inet fw input | json \
		'[e["counter"]["packets"] for r in d["nftables"] if r.get("rule", {}).get("comment") == "'"${1:-all}"'" for e in r["rule"]["expr"] if "counter" in e][0]'
}
half_tracked() { # SYN_SENT entries of a port: a handshake whose reply conntrack never saw
	ct_entries "$SRV_NS" -p tcp --orig-port-dst "$1" --state SYN_SENT
}

# A namespace joined to the server's by a veth created now, after attach:
# late-s ($LATE_SRV) in the server namespace, late-c ($LATE_CLI) in $LATE_NS.
late_up() {
	LATE_NS=ctbt-$$-late
	lab_on_down late_down
	ip netns add "$LATE_NS" &&
		ip link add late-s netns "$SRV_NS" type veth peer name late-c netns "$LATE_NS" &&
		ip -n "$SRV_NS" addr add "$LATE_SRV/24" dev late-s &&
		ip -n "$LATE_NS" addr add "$LATE_CLI/24" dev late-c &&
		ip -n "$SRV_NS" link set late-s up && ip -n "$LATE_NS" link set late-c up &&
		ip -n "$LATE_NS" link set lo up
}

late_down() {
	[ -n "$LATE_NS" ] && ip netns del "$LATE_NS" 2>/dev/null
	LATE_NS=
}

test_late_interface() {
	local before ok
	check "attach --ports 80" ctb attach --ports 80
	late_up
	check_eq "an interface created after attach" 0 "$?"
	before=$(invalid_drops 80)
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	ok=$(curl_many "$LATE_NS" "http://$LATE_SRV/" 40)
	check_eq "0 of 40 requests through it fail" 40 "$ok"
	check_eq "no conntrack entry for port 80" 0 "$(ct_entries "$SRV_NS" -p tcp --orig-port-dst 80)"
	check_eq "no INVALID drop" "$before" "$(invalid_drops 80)"
	check_ge "the backstop untracked them" 40 "$(ctb status --json | json 'd["counters"]["backstop"]["packets"]')"
	check "status names the interface without the classifier" bash -c \
		"'$CTBYPASS' -n '$SRV_NS' status --json | grep -q 'no classifier on 1 interface.*late-s'"
	check "attach again covers it" ctb attach --ports 80
	check "status: healthy" ctb status
	check "detach" ctb detach
	late_down
}

# Runs STEPS (ctbypass arguments, cycled) COUNT times while three clients make
# new connections back to back to ports 80, 8080 and 81; sets FAILED_CHANGES
# and leaves each client's "ok=N fail=M" in $_CTBT_TMP/tg.PORT.
changes_under_traffic() {
	local count=$1 i=0 changes=0 pids=() p overflows0 retrans0
	shift
	local steps=("$@")
	FAILED_CHANGES=0
	overflows0=$(net_stat "$SRV_NS" TcpExtListenOverflows)
	retrans0=$(net_stat "$SRV_NS" TcpRetransSegs)
	for p in 80 8080 81; do
		# Run directly, not through a shell function: $! must be trafficgen's
		# own pid for the TERM that stops it and makes it report.
		"$TRAFFICGEN" -n "$CLI_NS" connect --proto tcp --to "$SRV_IP4" --port "$p" --http \
			--count "$CLIENT_CONNS" "${CLIENT_PACE[@]}" --timeout-ms 5000 \
			>"$_CTBT_TMP/tg.$p" 2>&1 &
		pids+=($!)
		lab_track_pid $!
	done
	# Changes only while every client is still running: each happens under traffic.
	while [ $changes -lt "$count" ] && kill -0 "${pids[@]}" 2>/dev/null; do
		# shellcheck disable=SC2086
		ctb ${steps[i]} >/dev/null 2>"$_CTBT_TMP/step.err" ||
			{ FAILED_CHANGES=$((FAILED_CHANGES + 1)); cat "$_CTBT_TMP/step.err"; }
		changes=$((changes + 1))
		i=$(((i + 1) % ${#steps[@]}))
		sleep 0.05
	done
	CHANGES_DONE=$changes
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p"; done
	# Connections the servers' accept queues overflowed on: load, not ctbypass.
	LISTEN_OVERFLOWS=$(($(net_stat "$SRV_NS" TcpExtListenOverflows) - overflows0))
	# Creating or removing a clsact qdisc deactivates the device for a moment
	# (qdisc_graft); what it sends meanwhile is dropped and retransmitted.
	RETRANS=$(($(net_stat "$SRV_NS" TcpRetransSegs) - retrans0))
}

check_clients() {
	local p out
	echo "    meanwhile: accept queue overflows $LISTEN_OVERFLOWS, server retransmissions $RETRANS"
	for p in 80 8080 81; do
		out=$(tail -n 1 "$_CTBT_TMP/tg.$p")
		check "$1: port $p: requests went on, none failed ($out)" \
			bash -c "grep -qE 'ok=[1-9][0-9]* fail=0$' <<<'$out'"
	done
}

no_half_tracked() {
	local p half=0
	sleep 1 # a tracked handshake in flight completes; a half-tracked one stays SYN_SENT
	for p in 80 8080 81; do half=$((half + $(half_tracked "$p"))); done
	check_eq "$1: no half-tracked (SYN_SENT) entry" 0 "$half"
}

# Port 80 stays bypassed throughout; 8080, 81, an upstream, the mark and the
# protocols change around it. Each change flushes what it newly bypasses.
test_changes_under_traffic() {
	local drops0
	check "attach --ports 80" ctb attach --ports 80
	drops0=$(invalid_drops 80)
	changes_under_traffic "$CHANGES" "ports add 8080" "ports del 8080" "attach --ports 80,81,8080" \
		"upstream add $CLI_IP4:3128" "attach --ports 80,81 --mark 0x2" \
		"upstream del $CLI_IP4:3128" "ports del 81" "attach --ports 80,8080" \
		"attach --ports 80 --proto tcp,udp --mark 0x4"
	check_eq "$CHANGES changes under traffic" "$CHANGES" "$CHANGES_DONE"
	check_eq "each change succeeded" 0 "$FAILED_CHANGES"
	check_clients "changes"
	check_eq "no INVALID drop of port 80, bypassed throughout" "$drops0" "$(invalid_drops 80)"
	echo "    INVALID drops of ports whose bypass was removed under them (their FIN or RST" \
		"was the first packet conntrack saw): 8080: $(invalid_drops 8080), 81: $(invalid_drops 81)"
	no_half_tracked "changes"
	ctb detach >/dev/null
}

# Detach and attach again, under the same traffic.
test_detach_attach_under_traffic() {
	changes_under_traffic $((2 * CYCLES)) "attach --ports 80,8080" "detach"
	check_eq "$CYCLES detaches and attaches under traffic" $((2 * CYCLES)) "$CHANGES_DONE"
	check_eq "each succeeded" 0 "$FAILED_CHANGES"
	check_clients "detach/attach"
	no_half_tracked "detach/attach"
	ctb detach >/dev/null
}

# Counts, after our prerouting chain, packets that still carry BIT: arrivals
# (prerouting, mangle priority) and bridged ones (bridge family, forward).
bit_watch_up() {
	local bit=$1
	ip netns exec "$SRV_NS" nft -f - <<EOF2
table inet bitwatch {
	chain seen_pre { type filter hook prerouting priority mangle; policy accept;
		meta mark & $bit == $bit counter
	}
	chain seen_in { type filter hook input priority filter; policy accept;
		meta mark & $bit == $bit counter
	}
}
table bridge bitwatch {
	chain seen_bridged { type filter hook forward priority filter; policy accept;
		meta mark & $bit == $bit counter
	}
}
EOF2
}
bit_seen() { # pre | in | bridged
	local fam=inet
	[ "$1" = bridged ] && fam=bridge
	ip netns exec "$SRV_NS" nft -j list chain "$fam" bitwatch "seen_$1" | json \
		'[e["counter"]["packets"] for r in d["nftables"] if "rule" in r for e in r["rule"]["expr"] if "counter" in e][0]'
}

# Our bit set by someone else, on an interface without the classifier: a TC
# program that marks every arrival (tests/bpf/foreign_marker.bpf.c), on a veth created
# after attach. Its packets are judged by the backstop as anyone's: port 80
# is untracked (bypassed traffic), port 8080 tracked as usual, and the bit is
# not ours to clear.
test_foreign_mark() {
	local mark=0x4 ok
	check "attach --ports 80 (mark $mark)" ctb attach --ports 80 --mark $mark
	bit_watch_up $mark
	late_up &&
		tc -n "$SRV_NS" qdisc add dev late-s clsact &&
		tc -n "$SRV_NS" filter add dev late-s ingress prio 5 bpf \
			obj "$CTBT_ROOT/build/tests/foreign_marker.bpf.o" sec tc direct-action
	check_eq "a foreign tc filter sets our bit on another interface" 0 "$?"
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	ok=$(curl_many "$LATE_NS" "http://$LATE_SRV:8080/" 5)
	check_eq "port 8080 with our bit from elsewhere: requests work" 5 "$ok"
	check_ge "... and are tracked as usual" 5 "$(ct_entries "$SRV_NS" -p tcp --orig-port-dst 8080)"
	check_ge "the bit from elsewhere is left alone (not ours)" 1 "$(bit_seen pre)"
	check_eq "port 80 through that interface still works" 5 "$(curl_many "$LATE_NS" "http://$LATE_SRV/" 5)"
	tc -n "$SRV_NS" qdisc del dev late-s clsact
	late_down
	ip netns exec "$SRV_NS" nft delete table inet bitwatch
	ip netns exec "$SRV_NS" nft delete table bridge bitwatch
	check "detach" ctb detach
}

# Our classifier's bit never passes our prerouting chain: routed arrivals, and
# bridged ones with br_netfilter (Docker, bridge CNIs), whose bridge ports are
# left to the bridge device.
test_mark_stays_in() {
	local mark=0x4 br_ns=ctbt-$$-br ok
	lab_on_down ip netns del "$br_ns"
	if ! modprobe br_netfilter 2>/dev/null && [ ! -d /proc/sys/net/bridge ]; then
		fail "br_netfilter" "module not available"
		return
	fi
	# The server namespace bridges two more namespaces' veths: br0 with ports.
	ip netns add "$br_ns" &&
		ip -n "$SRV_NS" link add br0 type bridge &&
		ip link add brp0 netns "$SRV_NS" type veth peer name eth0 netns "$br_ns" &&
		ip -n "$SRV_NS" link set brp0 master br0 && ip -n "$SRV_NS" link set brp0 up &&
		ip -n "$SRV_NS" link add brp1 type veth peer name brp1c &&
		ip -n "$SRV_NS" link set brp1 master br0 && ip -n "$SRV_NS" link set brp1 up &&
		ip -n "$SRV_NS" link set br0 up &&
		ip -n "$SRV_NS" addr add 198.18.3.1/24 dev br0 &&
		ip -n "$br_ns" addr add 198.18.3.2/24 dev eth0 && ip -n "$br_ns" link set eth0 up &&
		ip -n "$br_ns" link set lo up
	check_eq "a bridge with ports in the server namespace" 0 "$?"
	ip netns exec "$SRV_NS" sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null
	check "attach --ports 80" ctb attach --ports 80 --mark $mark
	check_not "bridge ports are left to the bridge" classifier_on "$SRV_NS" brp0
	check "the bridge itself carries the classifier" classifier_on "$SRV_NS" br0
	check_not "--iface on a bridge port is refused" ctb attach --ports 80 --iface brp0
	bit_watch_up $mark
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	check_eq "routed arrivals: requests work" 5 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 5)"
	ok=$(curl_many "$br_ns" "http://198.18.3.1/" 5)
	check_eq "arrivals through the bridge: requests work" 5 "$ok"
	check_eq "... untracked" 0 "$(ct_entries "$SRV_NS" -p tcp --orig-port-dst 80)"
	check_eq "no packet carries our bit past prerouting" 0 "$(bit_seen pre)"
	check_eq "nor into input" 0 "$(bit_seen in)"
	check_eq "nor through the bridge" 0 "$(bit_seen bridged)"
	ip netns exec "$SRV_NS" nft delete table inet bitwatch
	ip netns exec "$SRV_NS" nft delete table bridge bitwatch
	check "detach" ctb detach
}

# Another tool's programs on the hook: attach says so, names the tool, and
# goes on (the backstop keeps the bypass whole whatever they do).
test_neighbour_warning() {
	local err
	tc -n "$SRV_NS" qdisc add dev "$SRV_DEV" clsact &&
		tc -n "$SRV_NS" filter add dev "$SRV_DEV" ingress prio 5 bpf \
			obj "$CTBT_ROOT/build/tests/cilium_standin.bpf.o" sec tc direct-action
	check_eq "a program named as Cilium's on $SRV_DEV" 0 "$?"
	err=$(ctb attach --ports 80 2>&1 >/dev/null)
	check_eq "attach goes on" 0 "$?"
	check "and warns, naming Cilium and the mark" bash -c \
		"grep -q \"Cilium's programs run on $SRV_DEV (cil_from_netdev).*mark 0x4\" <<<\"\$1\"" _ "$err"
	check "detach" ctb detach
	tc -n "$SRV_NS" qdisc del dev "$SRV_DEV" clsact
}

# An upstream covering every address reopens the source-port hole.
test_any_source_upstream() {
	local err
	err=$(ctb attach --upstream 0.0.0.0/0:443 2>&1)
	check_eq "attach --upstream 0.0.0.0/0:443 is refused" 1 "$?"
	check "with the explanation" bash -c "grep -q 'covers every address: any sender' <<<\"\$1\"" _ "$err"
	check_not "nothing was attached" bash -c "ip netns exec '$SRV_NS' nft list tables | grep -q ctbypass"
	check_eq "[::/0]:443 too" 1 "$(ctb attach --upstream '[::/0]:443' >/dev/null 2>&1; echo $?)"
	check "accepted with --force" ctb attach --upstream 0.0.0.0/0:443 --force
	check "status records it as forced" bash -c \
		"'$CTBYPASS' -n '$SRV_NS' status --json | grep -q '\"forced\":true'"
	check "detach" ctb detach
}

lab_up
firewall_up || fail "firewall"
NGINX_ADDRS="0.0.0.0" start_nginx "$SRV_NS" 80 || fail "start nginx"
start_trafficgen "$SRV_NS" --proto tcp --port 8080 --duration 3600 || fail "start trafficgen 8080"
start_trafficgen "$SRV_NS" --proto tcp --port 81 --duration 3600 || fail "start trafficgen 81"
test_late_interface
test_foreign_mark
test_mark_stays_in
test_any_source_upstream
test_neighbour_warning
test_changes_under_traffic
test_detach_attach_under_traffic
finish
