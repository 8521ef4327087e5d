#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The preflight against rules made by the real firewall managers (issue 12),
# each running in the server namespace (tests/lib/firewalld.sh, tests/lib/ufw.sh),
# every verdict checked with packets:
# - firewalld (default zone public + service http) and ufw (default deny
#   incoming + allow 80/tcp) let `attach --ports 80` through (exit 0), and then
#   IPv4 and IPv6 requests work untracked, also after the manager reloads;
# - `attach --upstream` to an upstream in the client namespace is refused
#   (replies from the upstream are accepted only while tracked); under --force
#   the connections really fail; the printed fix, run with the manager's own
#   command, repairs it: attach succeeds, connections work untracked, and still
#   do after `firewall-cmd --reload` / `ufw reload` (a fix in the manager's
#   terms survives its reload; a plain `nft add rule inet firewalld` would not).
# ctbypass's preflight output is shown under each attach, prefixed "    > ".
# Missing firewalld or ufw fails the test; it never skips.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
# shellcheck source=../lib/netns.sh
source "$LIB/netns.sh"
# shellcheck source=../lib/firewalld.sh
source "$LIB/firewalld.sh"
# shellcheck source=../lib/ufw.sh
source "$LIB/ufw.sh"

require_root
need_cmd curl nginx firewalld firewall-cmd dbus-daemon ufw unshare "$CTBYPASS"

UPSTREAM_PORT=3128
N=5
OUT=$_CTBT_TMP/attach.out
RC=
ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
port_entries() { # PORT: entries in the server namespace to or from PORT
	echo $(($(ct_entries "$SRV_NS" -p tcp --orig-port-dst "$1") +
		$(ct_entries "$SRV_NS" -p tcp --orig-port-src "$1")))
}
ct_flush() { in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1; }
to_server() { curl_many "$CLI_NS" "http://$1/" "${2:-$N}"; }
to_upstream() { curl_many "$SRV_NS" "http://$CLI_IP4:$UPSTREAM_PORT/" "${1:-$N}"; }

# attach_rec NAME ARGS...: `attach ARGS`, its exit status in RC, its output
# (both streams) in $OUT and shown.
attach_rec() {
	local name=$1
	shift
	ctb attach "$@" >"$OUT" 2>&1
	RC=$?
	echo "    $name: ctbypass attach $* -> exit $RC"
	sed 's/^/    > /' "$OUT"
}

# apply_fix NAME BIN: run the first "Add: …" line of $OUT in the server
# namespace, with BIN (the manager's command bound to that namespace) first
# in PATH.
apply_fix() {
	local fix
	fix=$(grep -o 'Add: .*' "$OUT" | head -n 1 | sed 's/^Add: //')
	check "$1: a fix line was printed" test -n "$fix"
	[ -n "$fix" ] || return 1
	echo "    $1: applying: $fix"
	check "$1: the fix applies" ip netns exec "$SRV_NS" env PATH="$2:$PATH" bash -c "$fix"
}

tracked_before() {
	ct_flush
	check_eq "$1: port 80 works before attach (IPv4)" $N "$(to_server "$SRV_IP4")"
	check_eq "$1: port 80 works before attach (IPv6)" $N "$(to_server "[$SRV_IP6]")"
	check_ge "$1: and is tracked" 1 "$(port_entries 80)"
	check_eq "$1: the upstream works before attach" $N "$(to_upstream)"
	check_ge "$1: and is tracked" 1 "$(port_entries $UPSTREAM_PORT)"
	ct_flush
}

port80_untracked() {
	check_eq "$1: $N of $N IPv4 requests to port 80 work" $N "$(to_server "$SRV_IP4")"
	check_eq "$1: $N of $N IPv6 requests to port 80 work" $N "$(to_server "[$SRV_IP6]")"
	check_eq "$1: untracked: no entry for port 80" 0 "$(port_entries 80)"
}

upstream_untracked() {
	check_eq "$1: $N of $N connections to the upstream work" $N "$(to_upstream)"
	check_eq "$1: untracked: no entry for port $UPSTREAM_PORT" 0 \
		"$(port_entries $UPSTREAM_PORT)"
}

# ports80 NAME BIN [RELOAD...]: attach --ports 80 must pass, and traffic
# still flows untracked after RELOAD; if it refuses, the printed fix must
# repair it (the verdict check still fails).
ports80() {
	local name=$1 bin=$2
	shift 2
	attach_rec "$name" --ports 80
	check_eq "$name: attach --ports 80 exits 0 (issue 12)" 0 "$RC"
	if [ "$RC" -ne 0 ]; then
		check_eq "$name: under --force, port 80 still works (so the refusal was wrong)" $N \
			"$(ctb attach --ports 80 --force >/dev/null 2>&1; CURL_MAX_TIME=1 to_server "$SRV_IP4")"
		ctb detach >/dev/null 2>&1
		apply_fix "$name" "$bin"
		attach_rec "$name after the fix" --ports 80
		check_eq "$name: attach --ports 80 exits 0 after the fix" 0 "$RC"
	fi
	[ "$RC" -eq 0 ] || return
	port80_untracked "$name"
	if [ $# -gt 0 ]; then
		check "$name: reload (${*})" "$@"
		port80_untracked "$name after the reload"
	fi
	check "$name: detach" ctb detach
	ct_flush
}

# upstream NAME BIN FIX_RE RELOAD...: attach --upstream is refused, with a fix
# line matching FIX_RE (the manager's own terms); under --force the
# connections fail; the fix repairs it and survives RELOAD.
upstream() {
	local name=$1 bin=$2 fix_re=$3
	shift 3
	attach_rec "$name" --upstream "$CLI_IP4:$UPSTREAM_PORT"
	check_eq "$name: attach --upstream is refused (exit 1)" 1 "$RC"
	if [ "$RC" -eq 1 ]; then
		check "$name: the upstream is named" grep -qF "$CLI_IP4:$UPSTREAM_PORT" "$OUT"
		check "$name: the fix is in the manager's terms ($fix_re)" grep -qE "Add: $fix_re" "$OUT"
		check "$name: --force attaches" ctb attach --upstream "$CLI_IP4:$UPSTREAM_PORT" --force
		check_eq "$name: under --force, connections to the upstream fail (the refusal was right)" \
			0 "$(CURL_MAX_TIME=1 to_upstream 3)"
		check "$name: detach" ctb detach
		ct_flush
		apply_fix "$name" "$bin"
		attach_rec "$name after the fix" --upstream "$CLI_IP4:$UPSTREAM_PORT"
		check_eq "$name: attach --upstream exits 0 after the fix" 0 "$RC"
		if [ "$RC" -eq 1 ]; then
			# Still refused: whether the fix repaired the traffic is
			# still worth knowing, so go on under --force.
			name="$name (refused after the fix, so under --force)"
			ctb attach --upstream "$CLI_IP4:$UPSTREAM_PORT" --force >/dev/null 2>&1
			RC=$?
		fi
	fi
	[ "$RC" -eq 0 ] || { ctb detach >/dev/null 2>&1; return; }
	upstream_untracked "$name"
	check "$name: reload (${*})" "$@"
	upstream_untracked "$name: after the reload, the fix still holds"
	check "$name: detach" ctb detach
	ct_flush
}

test_firewalld() {
	local bin
	if ! fwd_start "$SRV_NS"; then
		fail "firewalld: start in the server namespace" "see above"
		return
	fi
	bin=$(fwd_bin "$SRV_NS")
	check_eq "firewalld: default zone" public "$(fwd_cmd "$SRV_NS" --get-default-zone)"
	check "firewalld: --add-service=http" fwd_cmd "$SRV_NS" --zone=public --add-service=http
	tracked_before "firewalld"
	# A reload would drop this runtime-only service: no reload here.
	ports80 "firewalld public+http (runtime)" "$bin"
	check "firewalld: --reload" fwd_cmd "$SRV_NS" --reload
	check_not "firewalld: the reload dropped the runtime-only http" \
		bash -c "'$bin/firewall-cmd' --zone=public --list-services | grep -qw http"
	# Now the permanent way, which reloads keep.
	check "firewalld: --permanent --add-service=http" \
		fwd_cmd "$SRV_NS" --permanent --zone=public --add-service=http
	check "firewalld: --reload" fwd_cmd "$SRV_NS" --reload
	check "firewalld: http is in the zone" \
		bash -c "'$bin/firewall-cmd' --zone=public --list-services | grep -qw http"
	ports80 "firewalld public+http (permanent)" "$bin" fwd_cmd "$SRV_NS" --reload
	upstream "firewalld upstream" "$bin" 'firewall-cmd --permanent ' fwd_cmd "$SRV_NS" --reload
	fwd_stop "$SRV_NS"
	check_eq "firewalld: its table is gone once stopped" "" \
		"$(in_ns "$SRV_NS" nft list tables | grep -w firewalld)"
}

test_ufw() {
	local bin
	if ! ufw_start "$SRV_NS"; then
		fail "ufw: enable in the server namespace" "see above"
		return
	fi
	bin=$(ufw_bin "$SRV_NS")
	check "ufw: allow 80/tcp" ufw_cmd "$SRV_NS" allow 80/tcp
	check "ufw: status says deny (incoming)" \
		bash -c "ip netns exec '$SRV_NS' '$bin/ufw' status verbose | grep -q 'deny (incoming)'"
	tracked_before "ufw"
	ports80 "ufw deny+allow 80/tcp" "$bin" ufw_cmd "$SRV_NS" reload
	upstream "ufw upstream" "$bin" 'ufw ' ufw_cmd "$SRV_NS" reload
	ufw_stop "$SRV_NS"
}

lab_up
start_nginx "$SRV_NS" 80 || finish
NGINX_ADDRS=$CLI_IP4 start_nginx "$CLI_NS" $UPSTREAM_PORT || finish
test_firewalld
test_ufw
finish
