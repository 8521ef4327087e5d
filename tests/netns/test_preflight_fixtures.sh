#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The ruleset the real firewalld writes (tests/fixtures/nft_firewalld_public_http.nft:
# Debian 12's firewalld 1.3, zone public with service http, captured by
# tests/fixtures/capture-real.sh) loaded with nft into the server namespace, so
# its verdicts are checked with packets on every kernel the VM lab boots
# (test_preflight_real.sh runs firewalld itself, on the host only):
# - `attach --ports 80` passes (its RFC 3964 reject is only a warning), and
#   IPv4 and IPv6 requests then work untracked;
# - `attach --upstream` is refused with a firewalld rich rule as the fix, and
#   under --force the connections to the upstream really fail.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd curl nginx nft "$CTBYPASS"

FIXTURE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)/nft_firewalld_public_http.nft
UPSTREAM_PORT=3128
N=5
OUT=$_CTBT_TMP/attach.out
ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
port_entries() { # PORT: entries in the server namespace to or from PORT
	echo $(($(ct_entries "$SRV_NS" -p tcp --orig-port-dst "$1") +
		$(ct_entries "$SRV_NS" -p tcp --orig-port-src "$1")))
}
attach_exit() {
	ctb attach "$@" >"$OUT" 2>&1
	echo $?
}

test_server_port() {
	check_eq "firewalld: IPv4 requests work while tracked" $N \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4/" $N)"
	check_eq "firewalld: attach --ports 80 exits 0" 0 "$(attach_exit --ports 80)"
	check "firewalld: the RFC 3964 reject is a warning" \
		grep -q "warning \[state-.*for peers in .*2002:" "$OUT"
	check "firewalld: the reload window is named" grep -q "warning \[reload-" "$OUT"
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	check_eq "firewalld: IPv4 requests work untracked" $N \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4/" $N)"
	check_eq "firewalld: IPv6 requests work untracked" $N \
		"$(curl_many "$CLI_NS" "http://[$SRV_IP6]/" $N)"
	check_eq "firewalld: no entry for port 80" 0 "$(port_entries 80)"
	check "detach" ctb detach
}

test_upstream() {
	check_eq "firewalld: the upstream works while tracked" 3 \
		"$(curl_many "$SRV_NS" "http://$CLI_IP4:$UPSTREAM_PORT/" 3)"
	check_eq "firewalld: attach --upstream is refused" 1 \
		"$(attach_exit --upstream "$CLI_IP4:$UPSTREAM_PORT")"
	check "firewalld: the fix is a permanent rich rule" \
		grep -qF "Add: firewall-cmd --permanent --add-rich-rule='rule family=\"ipv4\" source address=\"$CLI_IP4/32\" source-port port=\"$UPSTREAM_PORT\" protocol=\"tcp\" accept' && firewall-cmd --reload" "$OUT"
	check_eq "firewalld: --force attaches" 0 \
		"$(attach_exit --upstream "$CLI_IP4:$UPSTREAM_PORT" --force)"
	check_eq "firewalld: under --force the upstream fails (the refusal was right)" 0 \
		"$(CURL_MAX_TIME=1 curl_many "$SRV_NS" "http://$CLI_IP4:$UPSTREAM_PORT/" 3)"
	check "detach" ctb detach
}

lab_up
ip netns exec "$SRV_NS" nft -f "$FIXTURE"
check_eq "firewalld's ruleset loads" 0 "$?"
start_nginx "$SRV_NS" 80 || finish
NGINX_ADDRS=$CLI_IP4 start_nginx "$CLI_NS" $UPSTREAM_PORT || finish
test_server_port
test_upstream
finish
