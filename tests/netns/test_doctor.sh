#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `ctbypass doctor` against real conntrack: a clean namespace; the seeds' squid
# case (the host's own connections to upstream 3128 are proposed as --upstream,
# not --ports, while requests to its nginx on 80 are proposed as --ports 80); a
# stateful firewall the preflight names with its fix; bad input; and that doctor
# changes nothing.
#
# The "host" is the server namespace (SRV_NS, where doctor runs); the upstream
# listens in the client namespace.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd "$CTBYPASS" "$TRAFFICGEN" python3 curl

ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }

# jget JSON EXPR: print the Python expression EXPR evaluated on the parsed JSON `d`.
jget() {
	python3 -c 'import json, sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2"
}

test_clean_namespace() {
	local json rc
	json=$(ctb doctor --json)
	rc=$?
	check_eq "clean: doctor --json exits 0" 0 "$rc"
	check "clean: output is one JSON object" jget "$json" 'd["table"]'
	check_eq "clean: max is the host's nf_conntrack_max" \
		"$(cat /proc/sys/net/netfilter/nf_conntrack_max)" "$(jget "$json" 'd["table"]["max"]')"
	check_eq "clean: entries are the namespace's own count (/proc/sys/net follows setns)" \
		"$(ct_count "$SRV_NS")" "$(jget "$json" 'd["table"]["entries"]')"
	check "clean: fill_percent is a number" \
		jget "$json" 'float(d["table"]["fill_percent"])'
	check_eq "clean: no preflight findings anywhere" 0 \
		"$(jget "$json" 'sum(len(c["findings"]) for c in d["candidates"])')"
	check_eq "clean: nothing requested" null "$(jget "$json" 'd["requested"]')"
	check_eq "clean: -n is not the initial namespace" false \
		"$(jget "$json" 'd["sizing"]["initial_namespace"]')"
	check "clean: says max is global" jget "$json" 'd["sizing"]["note"].index("global")'
	check_eq "clean: seeds' formula named" "CONNTRACK_MAX = RAM / 16384 / (ARCH / 32)" \
		"$(jget "$json" 'd["sizing"]["seeds_formula"]')"
	check "clean: text output" bash -c "'$CTBYPASS' -n '$SRV_NS' doctor | grep -q '^conntrack table:'"
}

test_squid_and_server() {
	local json text
	start_trafficgen "$CLI_NS" --proto tcp --port 3128 --bind "$CLI_IP4" || return
	start_nginx "$SRV_NS" 80 || return
	check "the host opens 300 connections to its upstream 3128" \
		tg "$SRV_NS" connect --proto tcp --to "$CLI_IP4" --port 3128 --count 300
	check_eq "200 requests reach the host's nginx" 200 \
		"$(curl_many "$CLI_NS" "http://$SRV_IP4/" 200)"
	check_ge "the upstream's TIME_WAIT entries are there" 250 \
		"$(ct_entries "$SRV_NS" -p tcp --orig-port-dst 3128 --state TIME_WAIT)"

	json=$(ctb doctor --json)
	check_eq "squid: 3128 is the top destination port" "tcp/3128" \
		"$(jget "$json" '"%s/%d" % (d["table"]["top_destination_ports"][0]["protocol"], d["table"]["top_destination_ports"][0]["port"])')"
	check_ge "squid: TIME_WAIT counted" 250 "$(jget "$json" 'd["table"]["tcp_states"]["TIME_WAIT"]')"
	check_eq "squid: the top source is the host itself" "$SRV_IP4" \
		"$(jget "$json" 'd["table"]["top_sources"][0]["address"]')"
	check_eq "squid: first candidate is the upstream" "upstream $CLI_IP4:3128" \
		"$(jget "$json" 'd["candidates"][0]["role"] + " " + d["candidates"][0]["upstream"]')"
	check_eq "squid: its command is attach --upstream" \
		"ctbypass -n $SRV_NS attach --upstream $CLI_IP4:3128" \
		"$(jget "$json" 'd["candidates"][0]["command"]')"
	check_ge "squid: its share is over half the table" 50 \
		"$(jget "$json" 'int(d["candidates"][0]["share_percent"])')"
	check_eq "squid: 3128 is never proposed as a server port" 0 \
		"$(jget "$json" 'len([c for c in d["candidates"] if c["role"] == "server" and c["port"] == 3128])')"
	check_eq "server: port 80 is proposed as --ports 80" \
		"server ctbypass -n $SRV_NS attach --ports 80 True" \
		"$(jget "$json" '" ".join(str(x) for x in [(c["role"], c["command"], c["listening"]) for c in d["candidates"] if c["port"] == 80][0])')"
	check_ge "server: with its entries" 150 \
		"$(jget "$json" '[c["entries"] for c in d["candidates"] if c["port"] == 80][0]')"

	text=$(ctb doctor)
	check "text: names the upstream command" \
		grep -qF "ctbypass -n $SRV_NS attach --upstream $CLI_IP4:3128" <<<"$text"
	check "text: names the server command" \
		grep -qxF "     ctbypass -n $SRV_NS attach --ports 80" <<<"$text"
	check "text: TIME_WAIT in the states line" grep -qE '^  tcp states:.*TIME_WAIT [0-9]+' <<<"$text"
}

test_stateful_firewall() {
	local json text fix
	in_ns "$SRV_NS" nft -f - <<'NFT'
table inet doctortest {
	chain input {
		type filter hook input priority 0; policy drop;
		ct state established,related accept
		tcp dport 80 ct state new accept
	}
}
NFT
	check "policy-drop input chain in place" in_ns "$SRV_NS" nft list table inet doctortest
	json=$(ctb doctor --ports 80 --json)
	check_eq "firewall: doctor --ports 80 exits 0" 0 "$?"
	check_eq "firewall: the request is reported" '[80]' "$(jget "$json" 'd["requested"]["ports"]')"
	check_eq "firewall: a blocking stateful finding" "stateful True" \
		"$(jget "$json" '" ".join(str(x) for x in [(f["kind"], f["blocking"]) for f in d["requested"]["findings"] if f["kind"] == "stateful"][0])')"
	fix=$(jget "$json" '[f["fix"] for f in d["requested"]["findings"] if f["kind"] == "stateful"][0]')
	check "firewall: the finding carries a fix line" test -n "$fix"
	check "firewall: the fix accepts untracked port 80" grep -qE 'ct state untracked .*dport 80 accept' <<<"$fix"
	text=$(ctb doctor --ports 80)
	check "firewall: text prints the finding with the exact fix line" \
		grep -qF -- "$fix" <<<"$text"
	check "firewall: text prints it as attach would (refuse)" \
		grep -qE '^     preflight: refuse \[[a-z]+-[0-9a-f]{6}\]: .*' <<<"$text"
	check "firewall: the same finding on candidate port 80" \
		jget "$json" '[f for c in d["candidates"] if c["port"] == 80 for f in c["findings"] if f["kind"] == "stateful"][0]'
}

test_bad_input_and_no_change() {
	local before after count0 count1 max0 arg
	before=$(in_ns "$SRV_NS" nft list ruleset)
	count0=$(ct_count "$SRV_NS")
	max0=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
	for arg in "--ports 0" "--ports abc" "--ports 70000" "--upstream 1.2.3.4" \
		"--upstream host:80" "--bogus" "extra" "--ports"; do
		# shellcheck disable=SC2086
		ctb doctor $arg >/dev/null 2>"$_CTBT_TMP/err"
		check_eq "bad input '$arg' exits 2" 2 "$?"
		check_eq "bad input '$arg': one line on stderr" 1 "$(wc -l <"$_CTBT_TMP/err")"
	done
	"$CTBYPASS" -n no-such-ns-doctor doctor >/dev/null 2>&1
	check_eq "unknown namespace exits 2" 2 "$?"
	ctb doctor >/dev/null
	ctb doctor --json --ports 80,443 --upstream "$CLI_IP4:3128,[$CLI_IP6]:443" >/dev/null
	check_eq "doctor leaves the ruleset as it was" "$before" "$(in_ns "$SRV_NS" nft list ruleset)"
	count1=$(ct_count "$SRV_NS")
	check "the conntrack count did not grow" test "$count1" -le "$count0"
	check_eq "nf_conntrack_max unchanged" "$max0" "$(cat /proc/sys/net/netfilter/nf_conntrack_max)"
	check_not "nothing of ctbypass appeared" in_ns "$SRV_NS" nft list table inet ctbypass
}

lab_up
# The max is global: keep other tests from lowering it while we compare it.
hold_ct_max || { fail "hold_ct_max" "another test kept nf_conntrack_max lowered"; finish; }
test_clean_namespace
test_squid_and_server
test_stateful_firewall
test_bad_input_and_no_change
finish
