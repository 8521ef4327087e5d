#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The preflight on kube-proxy's own rules (tests/fixtures/iptables_kube_proxy.save,
# from kube-proxy's TestOverallIPTablesRules), loaded into the server namespace
# with iptables-legacy-restore, every verdict checked with packets:
# - with the service backends elsewhere, `attach --ports 80` passes (a
#   ClusterIP's DNAT is about another address), and port 80 then works
#   untracked while the ClusterIP and NodePort rules stay in place;
# - a NodePort (3003) is refused: its arrivals are DNATed;
# - with a backend on this host (ns3/svc3's endpoint 10.180.0.3 made local,
#   as a hostNetwork pod would be), `attach --ports 80` is refused (NAT onto
#   a bypassed port), and under --force the NodePort's requests really fail
#   while direct requests to port 80 work.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd curl nginx iptables-legacy-restore "$CTBYPASS"

FIXTURE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)/iptables_kube_proxy.save
BACKEND=10.180.0.3 # ns3/svc3's and ns5/svc5's endpoint, port 80
NODEPORT=3003      # ns3/svc3
N=5
OUT=$_CTBT_TMP/attach.out
ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
port80_entries() {
	echo $(($(ct_entries "$SRV_NS" -p tcp --orig-port-dst 80) +
		$(ct_entries "$SRV_NS" -p tcp --orig-port-src 80)))
}

# attach_exit ARGS...: `attach ARGS`'s exit status; its output in $OUT.
attach_exit() {
	ctb attach "$@" >"$OUT" 2>&1
	echo $?
}

test_backends_elsewhere() {
	check_eq "backends elsewhere: attach --ports 80 exits 0" 0 "$(attach_exit --ports 80)"
	check_not "backends elsewhere: no NAT finding" grep -q "NAT would" "$OUT"
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	check_eq "backends elsewhere: requests to port 80 work" $N \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4/" $N)"
	check_eq "backends elsewhere: untracked" 0 "$(port80_entries)"
	check "detach" ctb detach
	check_eq "a NodePort is refused" 1 "$(attach_exit --ports $NODEPORT)"
	check "the NodePort's finding is its DNAT" grep -q "refuse \[nat-.*KUBE-SEP-" "$OUT"
}

test_backend_here() {
	ip -n "$SRV_NS" addr add "$BACKEND/32" dev lo
	check_eq "backend here: NodePort requests reach it (tracked)" $N \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4:$NODEPORT/" $N)"
	check_eq "backend here: attach --ports 80 is refused" 1 "$(attach_exit --ports 80)"
	check "backend here: the finding names the endpoint's DNAT" \
		grep -q "refuse \[natto-.*--to-destination $BACKEND:80" "$OUT"
	check_eq "backend here: --force attaches" 0 "$(attach_exit --ports 80 --force)"
	check_eq "backend here: direct requests to port 80 work" $N \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4/" $N)"
	check_eq "backend here: NodePort requests now fail (the refusal was right)" 0 \
		"$(CURL_MAX_TIME=1 curl_many "$CLI_NS" "http://$SRV_IP4:$NODEPORT/" $N)"
	check "detach" ctb detach
	ip -n "$SRV_NS" addr del "$BACKEND/32" dev lo
}

lab_up
grep -v '^#' "$FIXTURE" | ip netns exec "$SRV_NS" iptables-legacy-restore
check_eq "kube-proxy's rules load" 0 "$?"
NGINX_ADDRS=0.0.0.0 start_nginx "$SRV_NS" 80 || finish
test_backends_elsewhere
test_backend_here
finish
