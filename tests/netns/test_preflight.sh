#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The preflight on real rulesets: attach refuses (exit 1, nothing changed) over
# NAT and over stateful firewalls that would drop untracked packets, in nftables
# and in iptables-legacy; it prints the exact rule to add, and once that rule is
# added, attach succeeds and traffic flows untracked. --force overrides and is
# recorded in status. A clean namespace has no findings.

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

lab_up
start_nginx "$SRV_NS" 80 || finish
test_clean
test_nat_nft
test_nat_legacy
test_stateful_nft
test_stateful_legacy
finish
