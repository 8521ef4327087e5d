#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The preflight on real rulesets: attach refuses (exit 1, nothing changed) over
# NAT and over stateful firewalls that would drop untracked packets, in nftables
# and in iptables-legacy; it prints the exact rule to add, and once that rule is
# added, attach succeeds and traffic flows untracked. --force overrides and is
# recorded in status. A clean namespace has no findings.
# Issue 12: a DNAT about another address (a kube-proxy ClusterIP) does not
# count, and that traffic is still translated after attach; a REDIRECT onto a
# bypassed port is refused (--dry-run too, exit 1), --accept ID takes exactly
# that finding and status records it, and under it the redirected requests
# really fail: the refusal was right.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd curl nginx iptables-legacy iptables-legacy-save "$CTBYPASS"

OUT=$_CTBT_TMP/attach.out
ERR=$_CTBT_TMP/attach.err
ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
port80_entries() {
	echo $(($(ct_entries "$SRV_NS" -p tcp --orig-port-dst 80) +
		$(ct_entries "$SRV_NS" -p tcp --orig-port-src 80)))
}
ruleset() { ip netns exec "$SRV_NS" nft list ruleset; ip netns exec "$SRV_NS" iptables-legacy-save | grep -v '^#'; }

# refused NAME EXPECTED_TEXT: attach --ports 80 exits 1 with one stderr line,
# prints a finding containing EXPECTED_TEXT, and changes nothing.
refused() {
	local before
	before=$(ruleset)
	ctb attach --ports 80 >"$OUT" 2>"$ERR"
	check_eq "$1: attach exits 1" 1 "$?"
	check "$1: one line on stderr says refused" \
		bash -c "[ \$(wc -l <'$ERR') -eq 1 ] && grep -q 'attach refused' '$ERR'"
	check "$1: the finding names it" grep -qF -- "$2" "$OUT"
	check_eq "$1: nothing changed" "$before" "$(ruleset)"
}

test_clean() {
	ctb attach --ports 80 >"$OUT" 2>&1
	check_eq "clean namespace: attach exits 0" 0 "$?"
	check_not "clean namespace: no findings" grep -q preflight "$OUT"
	check "detach" ctb detach
}

test_nat_nft() {
	ip netns exec "$SRV_NS" nft 'add table ip lab_nat; add chain ip lab_nat prerouting { type nat hook prerouting priority dstnat; }; add rule ip lab_nat prerouting tcp dport 80 dnat to 198.18.0.9:8080'
	refused "nft DNAT" "NAT would stop applying to tcp/80 arrivals: rule 'tcp dport 80 dnat"
	check "nft DNAT: --force attaches" ctb attach --ports 80 --force
	check "nft DNAT: status records --force" \
		bash -c "'$CTBYPASS' -n '$SRV_NS' status --json | grep -q '\"forced\":true'"
	check "detach" ctb detach
	ip netns exec "$SRV_NS" nft delete table ip lab_nat
}

test_nat_legacy() {
	ip netns exec "$SRV_NS" iptables-legacy -t nat -A PREROUTING -p tcp --dport 80 \
		-j DNAT --to-destination 198.18.0.9:8080
	refused "iptables-legacy DNAT" "-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT"
	ip netns exec "$SRV_NS" iptables-legacy -t nat -F PREROUTING
}

# apply_fix: run the "Add: …" command the refusal printed, in the namespace.
apply_fix() {
	local fix
	fix=$(grep -o 'Add: .*' "$OUT" | head -n 1 | sed 's/^Add: //')
	check "$1: a fix line was printed" test -n "$fix"
	check "$1: the fix applies" ip netns exec "$SRV_NS" bash -c "$fix"
}

flows_untracked() {
	check "$1: attach succeeds after the fix" ctb attach --ports 80
	check_eq "$1: requests work through the firewall" 5 \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4/" 5)"
	check_eq "$1: untracked: no entry for port 80" 0 "$(port80_entries)"
	check "detach" ctb detach
}

test_stateful_nft() {
	ip netns exec "$SRV_NS" nft -f - <<'EOF2'
table inet lab_fw {
	chain input {
		type filter hook input priority 0; policy drop;
		iif "lo" accept
		ct state established,related accept
		tcp dport 80 ct state new accept
	}
}
EOF2
	check_eq "nft firewall: requests work while tracked" 3 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 3)"
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	refused "nft firewall" "Add: nft add rule inet lab_fw input position"
	check "nft firewall: the fix is scoped to the port" \
		grep -qF "ct state untracked tcp dport 80 accept" "$OUT"
	apply_fix "nft firewall"
	flows_untracked "nft firewall"
	ip netns exec "$SRV_NS" nft delete table inet lab_fw
}

test_stateful_legacy() {
	ip netns exec "$SRV_NS" bash -c '
		iptables-legacy -N RH-Firewall-1-INPUT
		iptables-legacy -A INPUT -j RH-Firewall-1-INPUT
		iptables-legacy -A RH-Firewall-1-INPUT -i lo -j ACCEPT
		iptables-legacy -A RH-Firewall-1-INPUT -p icmp --icmp-type any -j ACCEPT
		iptables-legacy -A RH-Firewall-1-INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT
		iptables-legacy -A RH-Firewall-1-INPUT -m state --state NEW -p tcp --dport 80 -j ACCEPT
		iptables-legacy -A RH-Firewall-1-INPUT -j REJECT --reject-with icmp-host-prohibited'
	check_eq "RH-Firewall: requests work while tracked" 3 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 3)"
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	refused "RH-Firewall (iptables-legacy)" "-I RH-Firewall-1-INPUT 4 -p tcp --dport 80 -m conntrack --ctstate UNTRACKED -j ACCEPT"
	apply_fix "RH-Firewall"
	flows_untracked "RH-Firewall"
}

CLUSTER_IP=172.30.0.41

# The host's own connections to a "ClusterIP" are DNATed to the client's :80.
test_cluster_ip() {
	ip -n "$SRV_NS" route add "$CLUSTER_IP/32" via "$CLI_IP4"
	ip netns exec "$SRV_NS" iptables-legacy -t nat -A OUTPUT -d "$CLUSTER_IP/32" -p tcp \
		--dport 80 -j DNAT --to-destination "$CLI_IP4:80"
	check_eq "ClusterIP: DNATed requests work before" 5 \
		"$(curl_many "$SRV_NS" "http://$CLUSTER_IP/" 5)"
	ctb attach --ports 80 >"$OUT" 2>&1
	check_eq "ClusterIP: attach --ports 80 exits 0" 0 "$?"
	check_not "ClusterIP: its DNAT is no finding" grep -q "NAT would" "$OUT"
	check_eq "ClusterIP: DNATed requests still work" 5 \
		"$(curl_many "$SRV_NS" "http://$CLUSTER_IP/" 5)"
	check "detach" ctb detach
	ip netns exec "$SRV_NS" iptables-legacy -t nat -F OUTPUT
	ip -n "$SRV_NS" route del "$CLUSTER_IP/32"
}

test_redirect_to_bypassed() {
	local id before
	ip netns exec "$SRV_NS" iptables-legacy -t nat -A PREROUTING -p tcp --dport 8080 \
		-j REDIRECT --to-ports 80
	check_eq "REDIRECT: requests to :8080 work while tracked" 5 \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4:8080/" 5)"
	refused "REDIRECT onto port 80" "tcp 8080 translated to bypassed port 80"
	id=$(grep -o 'refuse \[natto-[0-9a-f]*\]' "$OUT" | grep -o 'natto-[0-9a-f]*')
	check "REDIRECT: the refusal names an id" test -n "$id"
	before=$(ruleset)
	ctb attach --ports 80 --dry-run >"$OUT" 2>"$ERR"
	check_eq "REDIRECT: attach --dry-run exits 1 like the command" 1 "$?"
	check "REDIRECT: --dry-run says the command would be refused" \
		grep -q "dry-run: the real command would be refused" "$ERR"
	check_eq "REDIRECT: --dry-run changed nothing" "$before" "$(ruleset)"
	ctb attach --ports 80 --accept natto-000000 >"$OUT" 2>"$ERR"
	check_eq "REDIRECT: another id does not accept it" 1 "$?"
	check "REDIRECT: --accept $id attaches" ctb attach --ports 80 --accept "$id"
	check "REDIRECT: status --json lists the accepted id" \
		bash -c "'$CTBYPASS' -n '$SRV_NS' status --json | grep -q '\"accepted\":\\[\"$id\"\\]'"
	check "REDIRECT: status names it" bash -c "'$CTBYPASS' -n '$SRV_NS' status | grep -q 'accepted *$id'"
	check_eq "REDIRECT: requests to :80 work untracked" 5 \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4/" 5)"
	check_eq "REDIRECT: requests to :8080 now fail (the finding was real)" 0 \
		"$(CURL_MAX_TIME=1 curl_many "$CLI_NS" "http://$SRV_IP4:8080/" 5)"
	check "detach" ctb detach
	ip netns exec "$SRV_NS" iptables-legacy -t nat -F PREROUTING
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
}

# A fix that vanishes after attach (a firewall reload that rebuilt the rules):
# status sees the preflight refuse again, exits 1 and names the finding.
test_vanished_fix() {
	local fix=(-p tcp --dport 80 -m conntrack --ctstate UNTRACKED -j ACCEPT)
	check "vanished fix: attach" ctb attach --ports 80
	check "vanished fix: healthy while the fix is there" ctb status
	ip netns exec "$SRV_NS" iptables-legacy -D RH-Firewall-1-INPUT "${fix[@]}"
	ctb status >"$OUT" 2>&1
	check_eq "vanished fix: status exits 1" 1 "$?"
	check "vanished fix: status names the finding" \
		grep -q "the preflight now refuses the bypass (.*): \[state-" "$OUT"
	check "vanished fix: status --json is unhealthy" \
		bash -c "'$CTBYPASS' -n '$SRV_NS' status --json | grep -q '\"healthy\":false'"
	ip netns exec "$SRV_NS" iptables-legacy -I RH-Firewall-1-INPUT 4 "${fix[@]}"
	check "vanished fix: healthy again once restored" ctb status
	check "detach" ctb detach
}

lab_up
start_nginx "$SRV_NS" 80 || finish
NGINX_ADDRS=$CLI_IP4 start_nginx "$CLI_NS" 80 || finish
test_clean
test_cluster_ip
test_redirect_to_bypassed
test_nat_nft
test_nat_legacy
test_stateful_nft
test_stateful_legacy
test_vanished_fix
finish
