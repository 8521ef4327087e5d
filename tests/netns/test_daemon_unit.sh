#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# contrib/systemd/ctbypass.service, checked where systemd is not PID 1:
# - `systemd-analyze verify` is clean (the unit rewritten to a copy of build/ctbypass);
# - `systemd-analyze security --offline=true` rates it at most $MAX_EXPOSURE;
# - the daemon runs, for the lab's server namespace, under what the unit gives it, read
#   from the unit file itself: exactly its capability bounding set with no_new_privs
#   (setpriv), its system call filter with its errno, native architecture only, its
#   address families and MemoryDenyWriteExecute (tests/tools/sandbox_exec), and a file
#   system read-only but for /run/ctbypass, with /proc/sys and /sys read-only and /home and
#   /root hidden (ProtectSystem=strict, RuntimeDirectory=, ProtectKernelTunables=,
#   ProtectControlGroups=, ProtectHome=; a private mount namespace). There it starts (READY),
#   attaches, serves untracked, repairs `nft flush ruleset` and a new veth, reloads on
#   SIGHUP, stops on SIGTERM, and reads legacy iptables tables;
# - each capability of the set is needed: without CAP_NET_ADMIN or CAP_SYS_ADMIN it
#   stops at once (one line, exit 1); without CAP_NET_RAW, legacy iptables tables cannot
#   be read, and the preflight refuses (logged).
# Not emulated: PrivateTmp=, PrivateDevices= (it opens only /dev/null), RestrictNamespaces=
# (the lab needs -n, so setns; the unit runs in the host's namespace), IPAddressDeny=.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

UNIT=$CTBT_ROOT/contrib/systemd/ctbypass.service
: "${SANDBOX_EXEC:=$CTBT_ROOT/build/tools/sandbox_exec}"
# Measured 2.3 ("OK") with systemd 252 (2.1 before IPAddressAllow=localhost for the
# metrics and perf_event_open for kprobes): 0.2 of margin, less than what dropping any one
# of ProtectSystem=, the capability bounding set or the system call filter would add.
MAX_EXPOSURE=2.5

require_root
need_cmd systemd-analyze setpriv unshare findmnt cc curl nginx nft tc python3 \
	iptables-legacy iptables-legacy-save "$CTBYPASS" "$SANDBOX_EXEC"

CONF=$_CTBT_TMP/ctbypass.conf
NOTIFY=$_CTBT_TMP/notify.log
BIN=$_CTBT_TMP/bin
LOG=
DPID=
LATE_NS=
ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
entries() { ct_entries "$SRV_NS" -p tcp --orig-port-dst "$1"; }
our_filter() { classifier_on "$SRV_NS" "$1"; }
table_there() { ip netns exec "$SRV_NS" nft list table inet ctbypass >/dev/null 2>&1; }

# unit_values KEY: the words of every KEY= line of the unit, in order.
unit_values() {
	sed -n "s/^$1=//p" "$UNIT" | tr '\n' ' '
}

# ---- static checks ----

# contrib/ctbypass.conf: valid as shipped (all commented) and with every key uncommented,
# and it documents every key the daemon has.
test_sample_conf() {
	local sample=$CTBT_ROOT/contrib/ctbypass.conf key keys
	check "the sample config parses as shipped" "$CTBYPASS" daemon --config "$sample" --check-config
	sed 's/^#\([a-z-]* = \)/\1/' "$sample" >"$_CTBT_TMP/sample.conf"
	check "the sample config parses with every key set" \
		"$CTBYPASS" daemon --config "$_CTBT_TMP/sample.conf" --check-config
	keys=$("$CTBYPASS" daemon --config "$sample" --check-config | sed -n 's/ = .*//p')
	for key in $keys; do
		check "the sample config documents $key" grep -q "^#$key = " "$sample"
	done
}

test_verify() {
	local dir=$_CTBT_TMP/verify out rc
	mkdir -p "$dir/sbin" "$dir/units"
	cp "$CTBYPASS" "$dir/sbin/ctbypass"
	sed "s|/usr/sbin/ctbypass|$dir/sbin/ctbypass|" "$UNIT" >"$dir/units/ctbypass.service"
	check "the unit names the binary as ExecStart=/usr/sbin/ctbypass daemon" \
		grep -qx "ExecStart=/usr/sbin/ctbypass daemon" "$UNIT"
	# --man=no: Documentation='s man pages may be left out of a minimal install. Units
	# only ordered against (nftables.service ...) need not exist.
	out=$(systemd-analyze verify --man=no "$dir/units/ctbypass.service" 2>&1)
	rc=$?
	check_eq "systemd-analyze verify: exit 0" 0 "$rc"
	check_eq "systemd-analyze verify: nothing to say" "" "$out"
}

test_security() {
	local out score
	out=$(systemd-analyze security --offline=true --no-pager "$UNIT" 2>&1)
	score=$(sed -n 's/.*Overall exposure level for ctbypass.service: \([0-9.]*\) .*/\1/p' <<<"$out")
	echo "systemd-analyze security: exposure $score ($(grep -o 'Overall exposure.*' <<<"$out"))"
	check "systemd-analyze security: exposure $score <= $MAX_EXPOSURE" \
		awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s != "" && s + 0 <= m + 0) }'
}

# ---- the unit's confinement, from the unit file ----

# The capability bounding set as setpriv's list: "-all,+net_admin,...".
unit_caps() {
	local c list=-all
	for c in $(unit_values CapabilityBoundingSet); do
		c=${c#CAP_}
		list+=",+${c,,}"
	done
	echo "$list"
}

# The system calls SystemCallFilter= allows, as numbers: the first line's groups and
# names, less those of "~" lines, systemd's groups expanded as systemd-analyze lists them.
unit_syscalls() {
	local allow="" deny="" line
	while read -r line; do
		[ -n "$line" ] || continue
		if [[ "$line" == "~"* ]]; then
			deny+=" ${line#\~}"
		else
			allow+=" $line"
		fi
	done < <(sed -n 's/^SystemCallFilter=//p' "$UNIT")
	systemd-analyze syscall-filter 2>/dev/null | awk -v allow="$allow" -v deny="$deny" '
		/^@/ { g = $1; next }
		/^ *#/ || /^$/ { next }
		g != "" && /^ +/ { n[g]++; m[g, n[g]] = $1 }
		function expand(w, into,   i) {
			if (w !~ /^@/) { set[into, w] = 1; return }
			if (seen[into, w]++) return
			for (i = 1; i <= n[w]; i++) expand(m[w, i], into)
		}
		END {
			na = split(allow, a, " "); nd = split(deny, d, " ")
			for (i = 1; i <= na; i++) expand(a[i], "a")
			for (i = 1; i <= nd; i++) expand(d[i], "d")
			for (k in set) { split(k, p, SUBSEP); if (p[1] == "a" && !(("d", p[2]) in set)) print p[2] }
		}' >"$_CTBT_TMP/syscalls.allowed"
	# Names to this architecture's numbers; a name it has not is left out, as systemd does.
	printf '#include <asm/unistd.h>\n' | cc -E -dM - |
		awk '$2 ~ /^__NR_/ && $3 ~ /^[0-9]+$/ { sub(/^__NR_/, "", $2); print $2, $3 }' |
		awk 'NR == FNR { want[$1]; next } $1 in want { print $2 }' \
			"$_CTBT_TMP/syscalls.allowed" - | paste -sd,
}

unit_families() {
	local f list=""
	declare -A num=([AF_UNIX]=1 [AF_INET]=2 [AF_INET6]=10 [AF_NETLINK]=16 [AF_PACKET]=17)
	for f in $(unit_values RestrictAddressFamilies); do
		list+="${list:+,}${num[$f]:?unknown family $f}"
	done
	echo "$list"
}

unit_errno() {
	case $(unit_values SystemCallErrorNumber) in
	"EPERM ") echo 1 ;;
	"EACCES ") echo 13 ;;
	*) echo "unit_errno: add SystemCallErrorNumber=$(unit_values SystemCallErrorNumber)" >&2
	   return 1 ;;
	esac
}

# confine_fs: run in a private mount namespace (unshare -m) before the daemon starts.
# ProtectSystem=strict + RuntimeDirectory=ctbypass: all read-only but /run/ctbypass;
# ProtectKernelTunables=, ProtectControlGroups=: /proc/sys and /sys read-only;
# ProtectHome=: /home and /root empty. Device and proc mounts are left (PrivateDevices=).
# shellcheck disable=SC2016 # for the inner bash
CONFINE_FS='
set -e
mount --bind /run/ctbypass /run/ctbypass
mount --bind /proc/sys /proc/sys
findmnt -rn -o TARGET,FSTYPE | while read -r t fs; do
	case $t in
	/run/ctbypass | /dev | /dev/* | /proc | /proc/[!s]* | /proc/self*) continue ;;
	esac
	[ "$fs" = nsfs ] && continue
	mount -o remount,bind,ro "$t"
done
for h in /home /root; do
	[ -d "$h" ] && mount -t tmpfs -o ro,mode=0755 tmpfs "$h"
done
touch /etc/.ctbt-rw-probe 2>/dev/null && { echo "confine_fs: / is writable" >&2; exit 1; }
touch /run/ctbypass/.ctbt-rw-probe && rm /run/ctbypass/.ctbt-rw-probe
exec "$@"
'

# A unix datagram socket standing in for systemd's, printing what it receives.
notify_listen() {
	NOTIFY_ADDR=$_CTBT_TMP/notify.sock
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
' "$NOTIFY_ADDR" "$NOTIFY" &
	lab_track_pid $!
	sleep 0.2
}

# daemon_start CAPS: the daemon for the server namespace as the unit would run it,
# with the bounding set CAPS (setpriv's syntax); DPID is its pid (unshare, bash, setpriv
# and sandbox_exec each exec the next).
daemon_start() {
	local mdwe=()
	[ "$(unit_values MemoryDenyWriteExecute)" = "yes " ] && mdwe=(--mdwe)
	LOG=$(mktemp "$_CTBT_TMP/daemon.XXXXXX")
	: >"$NOTIFY"
	# RuntimeDirectory=: systemd creates it before setting up the namespace.
	mkdir -p /run/ctbypass
	(export NOTIFY_SOCKET=$NOTIFY_ADDR
	 _ctbt_spawn unshare -m --propagation private bash -c "$CONFINE_FS" confine \
		setpriv --bounding-set="$1" --inh-caps=-all --ambient-caps=-all --no-new-privs \
		"$BIN/sandbox_exec" --allow "$SYSCALLS" --families "$FAMILIES" --errno "$ERRNO" \
		"${mdwe[@]}" -- "$BIN/ctbypass" -n "$SRV_NS" daemon --config "$CONF") \
		>"$LOG" 2>&1 &
	DPID=$!
	lab_track_pid "$DPID"
}

daemon_running() { grep -q "running (pid $DPID)" "$LOG"; }
daemon_ready() { grep -q "READY=1" "$NOTIFY" && daemon_running; }

# daemon_stop: SIGTERM; STOP_RC is its exit status (not printed: $(...) could not wait).
daemon_stop() {
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	STOP_RC=$?
	DPID=
}

show_log() {
	echo "daemon log ($1):"
	sed 's/^/    /' "$LOG"
}

late_down() {
	[ -n "$LATE_NS" ] && ip netns del "$LATE_NS" 2>/dev/null
	LATE_NS=
}

# ---- the daemon under the unit's confinement ----

test_unit_set() {
	check "confinement: the daemon starts and says READY" wait_until 15 daemon_ready ||
		{ show_log "did not start"; return 1; }
	check_not "confinement: no system call or preflight refusal logged" \
		grep -Eq "Operation not permitted|preflight refuses|Read-only file system" "$LOG"
	check "status: attached and healthy" ctb status
	check "the classifier is on the lab's veth" our_filter "$SRV_DEV"
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	check_eq "requests work" 10 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 10)"
	check_eq "untracked: no entry for port 80" 0 "$(entries 80)"

	ip netns exec "$SRV_NS" nft flush ruleset
	check "nft flush ruleset: the table is back" wait_until 5 table_there
	check "nft flush ruleset: the repair is logged" wait_until 2 grep -q "repairing: .*table" "$LOG"
	check "status is healthy after the repair" wait_until 3 ctb status

	LATE_NS=ctbt-$$-late
	lab_on_down late_down
	ip netns add "$LATE_NS" &&
		ip link add late-s netns "$SRV_NS" type veth peer name late-c netns "$LATE_NS" &&
		ip -n "$SRV_NS" link set late-s up
	check "a veth created later carries the classifier" wait_until 5 our_filter late-s

	printf 'ports = 80,8080\nverify-interval = 5\ntelemetry = stats\n' >"$CONF"
	kill -HUP "$DPID"
	check "SIGHUP: the new port list is applied" \
		wait_until 5 bash -c "'$CTBYPASS' -n '$SRV_NS' ports list | grep -q ' 80,8080$'"
	check "SIGHUP: RELOADING=1, then READY=1 again" \
		wait_until 2 bash -c "grep -q RELOADING=1 '$NOTIFY' && [ \$(grep -c READY=1 '$NOTIFY') -ge 2 ]"

	daemon_stop
	check_eq "SIGTERM: exit 0" 0 "$STOP_RC"
	check "SIGTERM: STOPPING=1" grep -q "STOPPING=1" "$NOTIFY"
	check "SIGTERM: the bypass stays" table_there
	check_not "no system call, file or preflight refusal in the whole run" \
		grep -Eq "Operation not permitted|preflight refuses|Read-only file system|Permission denied" "$LOG"
	show_log "the unit's confinement"
}

# Legacy iptables tables: read with CAP_NET_RAW (the unit's set), refused without.
test_legacy() {
	local all=$1 no_raw=${1/,+net_raw/}
	printf 'ports = 80\nverify-interval = 5\ntelemetry = stats\n' >"$CONF"
	ctb detach >/dev/null
	in_ns "$SRV_NS" iptables-legacy -A INPUT -p tcp --dport 9 -j ACCEPT
	check_eq "a legacy iptables table in the server namespace" 0 "$?"
	daemon_start "$all"
	check "legacy tables, the unit's set: the daemon starts" wait_until 15 daemon_running
	check "legacy tables, the unit's set: read, the bypass applied" ctb status
	check_not "legacy tables, the unit's set: nothing unread" grep -q "unread-" "$LOG"
	daemon_stop
	ctb detach >/dev/null
	daemon_start "$no_raw"
	check "legacy tables, without CAP_NET_RAW: the daemon starts" wait_until 15 daemon_running
	check "without CAP_NET_RAW: iptables-legacy-save cannot read them: the preflight refuses" \
		grep -q "preflight refuses \[unread-.*iptables-legacy-save" "$LOG"
	check "without CAP_NET_RAW: nothing applied" \
		bash -c "'$CTBYPASS' -n '$SRV_NS' status | grep -q 'not attached'"
	show_log "without CAP_NET_RAW"
	daemon_stop
	in_ns "$SRV_NS" iptables-legacy -F INPUT
}

# Without CAP_NET_ADMIN or CAP_SYS_ADMIN: one line, exit 1, nothing changed.
test_without() {
	local caps=$1 name=$2 rc lines
	daemon_start "$caps"
	wait "$DPID"
	rc=$?
	DPID=
	check_eq "without $name: exit 1" 1 "$rc"
	lines=$(grep -c . "$LOG")
	check_eq "without $name: one line" 1 "$lines"
	check "without $name: it names the capabilities" \
		grep -q "needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)" "$LOG"
	sed 's/^/    /' "$LOG"
}

test_sample_conf
test_verify
test_security

CAPS=$(unit_caps)
SYSCALLS=$(unit_syscalls)
FAMILIES=$(unit_families)
ERRNO=$(unit_errno)
echo "the unit's bounding set: $CAPS; $(tr ',' '\n' <<<"$SYSCALLS" | grep -c .) system calls;" \
	"families $FAMILIES; errno $ERRNO"
check "the unit's filter allows bpf(2)" grep -qx bpf "$_CTBT_TMP/syscalls.allowed"
check "the unit's filter allows perf_event_open(2) (kprobe telemetry)" \
	grep -qx perf_event_open "$_CTBT_TMP/syscalls.allowed"
check_eq "the unit's bounding set" "-all,+net_admin,+sys_admin,+net_raw" "$CAPS"
# Copies, as the unit's /usr/sbin: the tree may sit under /home or /root, hidden below.
mkdir -p "$BIN" && cp "$CTBYPASS" "$SANDBOX_EXEC" "$BIN/"

lab_up
ip netns exec "$SRV_NS" nft add rule inet lab input ct state invalid drop
NGINX_ADDRS="0.0.0.0 [::]" start_nginx "$SRV_NS" 80 || finish
# telemetry = stats: the probes' own line names why fentry or kprobes do not load on
# this host's kernel (EPERM, no kprobes), confined or not; it would hide a refusal
# among the ones checked below. The VM lab loads them (tests/vm/test_metrics_probes.sh).
printf '# ctbypass unit test\nports = 80\nverify-interval = 5\ntelemetry = stats\n' >"$CONF"
notify_listen
daemon_start "$CAPS"
test_unit_set
ctb detach >/dev/null
test_without "${CAPS/,+sys_admin/}" CAP_SYS_ADMIN
test_without "${CAPS/,+net_admin/}" CAP_NET_ADMIN
check "without either: nothing was attached" \
	bash -c "'$CTBYPASS' -n '$SRV_NS' status | grep -q 'not attached'"
test_legacy "$CAPS"
finish
