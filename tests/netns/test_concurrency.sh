#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# More than one operator, and commands that die: against the real kernel,
# - two commands at once (attach/attach, ports add/ports add, attach/detach),
#   20 rounds each: afterwards the classifier's map, the nftables set and
#   `status --json` agree, no interface has two of our filters, and the loser
#   either waited or failed with one clear line;
# - a command holding the lock hangs: the next one fails after --wait naming
#   it, status still answers, and the lock frees itself when the holder dies;
# - 40 attach commands killed with SIGKILL at random moments, each followed by
#   detach: nothing of ctbypass is left;
# - the intent log: a bare clsact qdisc it names is removed, one it does not
#   name (somebody else's) is kept.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd tc bpftool python3 flock "$CTBYPASS"

EXTRA=10 # veth pairs beside the lab's: more work per command, wider race windows
# Rounds of each race and killed attaches; the VM lab's emulation is ten times slower.
ROUNDS=${CTB_ROUNDS:-$([ -n "${CTBYPASS_VM:-}" ] && echo 10 || echo 20)}
KILLS=${CTB_KILLS:-$([ -n "${CTBYPASS_VM:-}" ] && echo 20 || echo 40)}
PROBE_PORTS=(80 81 8080 8081)

ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
ns_inode() { stat -L -c %i "/run/netns/$SRV_NS"; }

add_interfaces() {
	local i
	for ((i = 0; i < EXTRA; i++)); do
		ip -n "$SRV_NS" link add "x$i" type veth peer name "y$i" &&
			ip -n "$SRV_NS" link set "x$i" up && ip -n "$SRV_NS" link set "y$i" up || return 1
	done
}

# The most classifiers of ours on any one interface, either hook.
max_filters_per_iface() {
	classifiers "$SRV_NS" | awk '{ n[$1]++ } END { for (d in n) if (n[d] > m) m = n[d]; print m + 0 }'
}

# The server ports the classifier's map holds, among PROBE_PORTS (read with bpftool).
map_ports() {
	local prog m ports_map= p out=()
	prog=$(classifier_id "$SRV_NS" "$SRV_DEV")
	[ -n "$prog" ] || { echo none; return; }
	for m in $(bpftool prog show id "$prog" --json | python3 -c \
		'import json,sys; print(" ".join(map(str, json.load(sys.stdin)["map_ids"])))'); do
		bpftool map show id "$m" --json | grep -q '"name":"ports"' && ports_map=$m
	done
	for p in "${PROBE_PORTS[@]}"; do
		bpftool map lookup id "$ports_map" key $((p & 255)) $((p >> 8)) 0 0 --json |
			grep -q '"server_slot":0,' || out+=("$p")
	done
	local IFS=,
	echo "${out[*]:-none}"
}

# The server ports the nftables set holds, among PROBE_PORTS.
set_ports() {
	ip netns exec "$SRV_NS" nft -j list set inet ctbypass server_ports 2>/dev/null |
		python3 -c '
import json, sys
try:
    s = [o["set"] for o in json.load(sys.stdin)["nftables"] if "set" in o][0]
except Exception:
    print("none"); sys.exit()
have = {e["elem"]["val"]["concat"][1] if "elem" in e else e["concat"][1] for e in s.get("elem", [])}
print(",".join(str(p) for p in [80, 81, 8080, 8081] if p in have) or "none")'
}

status_ports() {
	ctb status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
want = [80, 81, 8080, 8081]
ports = [str(p) for p in want if p in s["ports"]] if s["attached"] else []
print(",".join(ports) or "none", "healthy" if s["healthy"] else "unhealthy:" + "|".join(s["problems"]))'
}

# One line that must read the same for every consistent state: map = set = status.
consistent() {
	local m s st
	m=$(map_ports)
	s=$(set_ports)
	st=$(status_ports)
	echo "map=$m set=$s status=$st filters<=$(max_filters_per_iface)"
	[ "$m" = "$s" ] && [ "$st" = "$s healthy" ] && [ "$(max_filters_per_iface)" -le 1 ]
}

# Exit 0, or exit 1 with the lock's one-line message: anything else is a defect.
loser_ok() {
	local rc=$1 err=$2
	[ "$rc" -eq 0 ] && return 0
	[ "$rc" -eq 1 ] && [ "$(grep -c . "$err")" -eq 1 ] && grep -q 'is changing this namespace' "$err"
}

race() { # race NAME CMD1 -- CMD2
	local name=$1 a=() b=() pa pb ra rb
	shift
	while [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	ctb "${a[@]}" >"$_CTBT_TMP/a.out" 2>"$_CTBT_TMP/a.err" &
	pa=$!
	ctb "${b[@]}" >"$_CTBT_TMP/b.out" 2>"$_CTBT_TMP/b.err" &
	pb=$!
	wait $pa; ra=$?
	wait $pb; rb=$?
	RACE_RC="$ra $rb"
	loser_ok "$ra" "$_CTBT_TMP/a.err" && loser_ok "$rb" "$_CTBT_TMP/b.err"
}

test_attach_attach() {
	local i bad=0 badexit=0 line
	for ((i = 0; i < ROUNDS; i++)); do
		race aa attach --ports 80 --no-flush -- attach --ports 80,8080 --no-flush || badexit=$((badexit + 1))
		line=$(consistent) || { bad=$((bad + 1)); echo "    round $i: $line (exits $RACE_RC)"; }
	done
	check_eq "attach/attach: both exit 0 (one waited) or fail with the lock's line" 0 "$badexit"
	check_eq "attach/attach: map, set and status agree after every round" 0 "$bad"
}

test_ports_ports() {
	local i bad=0 badexit=0 line
	for ((i = 0; i < ROUNDS; i++)); do
		ctb attach --ports 80 --no-flush >/dev/null
		race pp ports add 8080 --no-flush -- ports add 8081 --no-flush || badexit=$((badexit + 1))
		line=$(consistent) || { bad=$((bad + 1)); echo "    round $i: $line"; }
		# Both waited their turn: neither change is lost.
		[[ "$line" == map=80,8080,8081\ * ]] || [ "$RACE_RC" != "0 0" ] ||
			{ bad=$((bad + 1)); echo "    round $i: a change was lost: $line"; }
	done
	check_eq "ports add/ports add: exit 0 or the lock's line" 0 "$badexit"
	check_eq "ports add/ports add: agree, and no change lost" 0 "$bad"
}

nothing_left() {
	! ip netns exec "$SRV_NS" nft list tables 2>/dev/null | grep -q ctbypass &&
		[ "$(max_filters_per_iface)" -eq 0 ] &&
		! tc -n "$SRV_NS" qdisc show | grep -q clsact &&
		[ ! -e "/run/ctbypass/netns-$(ns_inode).intent" ]
}

test_attach_detach() {
	local i bad=0 badexit=0 line
	for ((i = 0; i < ROUNDS; i++)); do
		ctb attach --ports 80 --no-flush >/dev/null
		race ad attach --ports 80,81 --no-flush -- detach || badexit=$((badexit + 1))
		if ctb status --json | grep -q '"attached":true'; then
			line=$(consistent) || { bad=$((bad + 1)); echo "    round $i: $line"; }
		else
			nothing_left || { bad=$((bad + 1)); echo "    round $i: detached, but debris left"; }
		fi
	done
	ctb detach >/dev/null
	check_eq "attach/detach: exit 0 or the lock's line" 0 "$badexit"
	check_eq "attach/detach: either consistently attached or nothing left" 0 "$bad"
}

test_hung_holder() {
	local lockfile holder rc err
	lockfile=/run/ctbypass/netns-$(ns_inode).lock
	mkdir -p /run/ctbypass
	# A holder that hangs: flock(1) keeps the lock while its child sleeps.
	flock "$lockfile" bash -c 'echo "pid=$$ command=attach since=$(date +%s)" >"$1"; sleep 30' \
		_ "$lockfile" &
	holder=$!
	lab_track_pid "$holder"
	wait_until 5 grep -q pid= "$lockfile"
	err=$(ctb --wait 0.5 attach --ports 80 2>&1 >/dev/null)
	rc=$?
	check_eq "a change waits, then fails with exit 1" 1 "$rc"
	check "one line naming the holder's pid and command" \
		bash -c '[ "$(grep -c . <<<"$1")" = 1 ] && grep -q "pid [0-9]* (.ctbypass attach., for" <<<"$1"' _ "$err"
	check "nothing was attached meanwhile" nothing_left
	check "status answers while the lock is held" bash -c \
		"'$CTBYPASS' -n '$SRV_NS' status --json | grep -q '\"changing\":{\"pid\"'"
	pkill -KILL -P "$holder" sleep 2>/dev/null
	kill -KILL "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	check "once the holder died, the next change goes through" ctb --wait 2 attach --ports 80 --no-flush
	check "detach" ctb detach
}

test_killed_attach() {
	local i killed=0 left=0 rc pid t0 span
	# Kill moments spread over a whole attach, from exec to exit.
	t0=$(date +%s%3N)
	ctb attach --ports 80,81 --no-flush >/dev/null 2>&1
	span=$(($(date +%s%3N) - t0 + 5))
	ctb detach >/dev/null 2>&1
	echo "    one attach takes about $((span - 5)) ms; killing at 0-$span ms"
	for ((i = 0; i < KILLS; i++)); do
		ctb attach --ports 80,81 --no-flush >/dev/null 2>&1 &
		pid=$!
		sleep "$(printf '0.%03d' $((RANDOM % span)))"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rc=$?
		[ $rc -eq 137 ] && killed=$((killed + 1))
		ctb detach >/dev/null 2>&1
		nothing_left || { left=$((left + 1)); echo "    kill $i (exit $rc): debris left"; }
	done
	echo "    $killed of $KILLS attach commands were killed before they finished"
	check_ge "some attach commands were killed mid-way" $((KILLS / 8)) "$killed"
	check_eq "after each killed attach, detach left nothing" 0 "$left"
}

test_intent_log() {
	local log
	log=/run/ctbypass/netns-$(ns_inode).intent
	mkdir -p /run/ctbypass
	# x0's bare clsact is one an interrupted command noted; x1's is somebody else's.
	tc -n "$SRV_NS" qdisc add dev x0 clsact && tc -n "$SRV_NS" qdisc add dev x1 clsact
	echo "clsact $(ip -n "$SRV_NS" -o link show x0 | cut -d: -f1)" >"$log"
	check "status names the pending cleanup" bash -c \
		"'$CTBYPASS' -n '$SRV_NS' status | grep -q 'cleanup pending on 1 interface'"
	check "detach (nothing attached) runs the cleanup" ctb detach
	check_not "the noted bare clsact is gone" bash -c "tc -n '$SRV_NS' qdisc show dev x0 | grep -q clsact"
	check "the foreign bare clsact is kept" bash -c "tc -n '$SRV_NS' qdisc show dev x1 | grep -q clsact"
	check_not "the log is cleared" test -e "$log"
	tc -n "$SRV_NS" qdisc del dev x1 clsact
}

lab_up
check "create $((2 * EXTRA)) more interfaces" add_interfaces
test_attach_attach
ctb detach >/dev/null
test_ports_ports
ctb detach >/dev/null
test_attach_detach
test_hung_holder
test_killed_attach
test_intent_log
finish
