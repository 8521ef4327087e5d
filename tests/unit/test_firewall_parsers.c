// SPDX-License-Identifier: GPL-2.0
/*
 * The two firewall readers, case by case: strict values, options that take no
 * argument, targets and statements we cannot follow, NAT translations,
 * verdict maps, and the iptables-nft listing with an incompatible table.
 * Every case here was read wrongly (or crashed) before the readers were made
 * strict; fixtures generated with real nft are described in tests/fixtures/README.md.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "firewall_read.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		fail_msg("cannot open %s (run from the repository root)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("cannot read %s", path);
	fclose(f);
	return buf;
}

/* RULES: "-A INPUT …" lines, read into one filter table with INPUT and a user chain. */
static void ipt(struct fw_ruleset *rs, int family, const char *table, const char *rules)
{
	char text[16384];

	snprintf(text, sizeof(text),
		 "*%s\n:INPUT ACCEPT [0:0]\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
		 ":USER - [0:0]\n%sCOMMIT\n", table, rules);
	memset(rs, 0, sizeof(*rs));
	assert_int_equal(fw_parse_iptables_save(rs, text, family, FW_SRC_IPTABLES_LEGACY), 0);
}

static const struct fw_chain *chain(const struct fw_ruleset *rs, const char *table,
				    const char *name)
{
	for (size_t c = 0; c < rs->chain_count; c++)
		if (!strcmp(rs->chains[c].table, table) && !strcmp(rs->chains[c].name, name))
			return &rs->chains[c];
	fail_msg("no chain %s %s", table, name);
	return NULL;
}

static const struct fw_match *find(const struct fw_rule *r, enum fw_match_kind kind)
{
	for (size_t m = 0; m < r->match_count; m++)
		if (r->matches[m].kind == kind)
			return &r->matches[m];
	return NULL;
}

static const struct fw_rule *input_rule(const struct fw_ruleset *rs, size_t i)
{
	const struct fw_chain *ch = chain(rs, rs->chains[0].table, "INPUT");

	assert_true(i < ch->rule_count);
	return &ch->rules[i];
}

static void ipt_ports_strict(void **state)
{
	static const char *const bad[] = { "99999", "080", "90:80", "65536", "80,,90", "-1",
					   "80:", "0x50", "" };
	struct fw_ruleset rs;
	char rules[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(rules, sizeof(rules),
			 "-A INPUT -p tcp -m multiport --dports \"%s\" -j ACCEPT\n", bad[i]);
		ipt(&rs, 4, "filter", rules);
		assert_null(find(input_rule(&rs, 0), FW_M_DPORT));
		assert_non_null(find(input_rule(&rs, 0), FW_M_UNKNOWN));
		assert_int_equal(input_rule(&rs, 0)->verdict, FW_V_ACCEPT);
		fw_ruleset_free(&rs);
	}
	ipt(&rs, 4, "filter", "-A INPUT -p tcp -m multiport --dports 0,80:90,65535 -j DROP\n");
	assert_int_equal(find(input_rule(&rs, 0), FW_M_DPORT)->port_count, 3);
	assert_int_equal(find(input_rule(&rs, 0), FW_M_DPORT)->ports[1].hi, 90);
	assert_int_equal(find(input_rule(&rs, 0), FW_M_DPORT)->ports[2].lo, 65535);
	fw_ruleset_free(&rs);
}

static void ipt_dotted_masks(void **state)
{
	struct fw_ruleset rs;

	(void)state;
	ipt(&rs, 4, "filter",
	    "-A INPUT -s 10.0.0.1/255.255.0.0 -j DROP\n"
	    "-A INPUT -s 10.0.0.1/255.255.0.255 -j DROP\n"
	    "-A INPUT -d 10.0.0.0/08 -j DROP\n"
	    "-A INPUT -d 10.0.0.0/33 -j DROP\n"
	    "-A INPUT -d 10.0.0.0/255.255.255.255 -j DROP\n");
	assert_int_equal(find(input_rule(&rs, 0), FW_M_SADDR)->prefixes[0].len, 16);
	assert_null(find(input_rule(&rs, 1), FW_M_SADDR)); /* never /255 */
	assert_non_null(find(input_rule(&rs, 1), FW_M_UNKNOWN));
	assert_null(find(input_rule(&rs, 2), FW_M_DADDR));
	assert_null(find(input_rule(&rs, 3), FW_M_DADDR));
	assert_int_equal(find(input_rule(&rs, 4), FW_M_DADDR)->prefixes[0].len, 32);
	fw_ruleset_free(&rs);

	ipt(&rs, 6, "filter",
	    "-A INPUT -s fd00::/64 -j DROP\n"
	    "-A INPUT -s fd00::/ffff:ffff:: -j DROP\n"
	    "-A INPUT -s fd00::/ffff:0:ffff:: -j DROP\n");
	assert_int_equal(find(input_rule(&rs, 0), FW_M_SADDR)->prefixes[0].len, 64);
	assert_int_equal(find(input_rule(&rs, 1), FW_M_SADDR)->prefixes[0].len, 32);
	assert_null(find(input_rule(&rs, 2), FW_M_SADDR));
	fw_ruleset_free(&rs);
}

static void ipt_tokens_past_128_and_trailing_jump(void **state)
{
	char rules[8192] = "-A INPUT";
	struct fw_ruleset rs;

	(void)state;
	for (int i = 0; i < 70; i++)
		strcat(rules, " -m comment --comment \"c\"");
	strcat(rules, " -p tcp -m tcp --dport 22 -j DROP\n-A INPUT -p tcp -j\n");
	ipt(&rs, 4, "filter", rules);
	assert_int_equal(chain(&rs, "filter", "INPUT")->rule_count, 2);
	assert_int_equal(find(input_rule(&rs, 0), FW_M_DPORT)->ports[0].lo, 22);
	assert_int_equal(input_rule(&rs, 0)->verdict, FW_V_DROP);
	assert_int_equal(input_rule(&rs, 1)->verdict, FW_V_UNKNOWN);
	fw_ruleset_free(&rs);
}

static void ipt_flags_before_jump(void **state)
{
	struct fw_ruleset rs;

	(void)state;
	ipt(&rs, 4, "filter",
	    "-A INPUT -p tcp -m recent --rcheck --seconds 60 --name SSH --rsource -j DROP\n"
	    "-A INPUT -m physdev --physdev-is-bridged -j ACCEPT\n"
	    "-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP\n"
	    "-A INPUT -p tcp -m tcp ! --syn -j ACCEPT\n"
	    "-A INPUT -m set --match-set blocked src -j DROP\n"
	    "-A INPUT -m frobnicate --frob -j ACCEPT\n"
	    "-A INPUT -m frobnicate --frob a b -m tcp -p tcp --dport 80 -j ACCEPT\n");
	assert_int_equal(input_rule(&rs, 0)->verdict, FW_V_DROP);
	assert_int_equal(input_rule(&rs, 1)->verdict, FW_V_ACCEPT);
	assert_int_equal(input_rule(&rs, 2)->verdict, FW_V_DROP);
	assert_int_equal(input_rule(&rs, 3)->verdict, FW_V_ACCEPT);
	assert_int_equal(input_rule(&rs, 4)->verdict, FW_V_DROP);
	assert_int_equal(input_rule(&rs, 5)->verdict, FW_V_ACCEPT);
	assert_non_null(find(input_rule(&rs, 5), FW_M_UNKNOWN));
	assert_int_equal(input_rule(&rs, 6)->verdict, FW_V_ACCEPT);
	assert_int_equal(find(input_rule(&rs, 6), FW_M_DPORT)->ports[0].lo, 80);
	fw_ruleset_free(&rs);
}

static void ipt_ctstate_dnat_snat(void **state)
{
	struct fw_ruleset rs;

	(void)state;
	ipt(&rs, 4, "filter",
	    "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT\n"
	    "-A INPUT -m conntrack --ctstate SNAT -j ACCEPT\n"
	    "-A INPUT -m conntrack --ctstate NEW,BOGUS -j ACCEPT\n");
	assert_int_equal(find(input_rule(&rs, 0), FW_M_CT_STATE)->ct_states,
			 FW_CT_RELATED | FW_CT_ESTABLISHED | FW_CT_DNAT);
	assert_int_equal(find(input_rule(&rs, 1), FW_M_CT_STATE)->ct_states, FW_CT_SNAT);
	assert_null(find(input_rule(&rs, 2), FW_M_CT_STATE));
	assert_non_null(find(input_rule(&rs, 2), FW_M_UNKNOWN));
	fw_ruleset_free(&rs);
}

static void assert_nat(const struct fw_rule *r, enum fw_nat_kind kind, bool understood,
		       const char *addr, int lo, int hi)
{
	uint8_t want[16] = { 0 };

	assert_int_equal(r->verdict, FW_V_NAT);
	assert_int_equal(r->nat.kind, kind);
	assert_int_equal(r->nat.understood, understood);
	if (!understood)
		return;
	assert_int_equal(r->nat.addr_given, addr != NULL);
	if (addr) {
		assert_int_equal(inet_pton(strchr(addr, ':') ? AF_INET6 : AF_INET, addr, want), 1);
		assert_memory_equal(r->nat.addr.addr, want, 16);
	}
	assert_int_equal(r->nat.ports_given, lo >= 0);
	if (lo >= 0) {
		assert_int_equal(r->nat.ports.lo, lo);
		assert_int_equal(r->nat.ports.hi, hi);
	}
}

static void ipt_nat_targets(void **state)
{
	struct fw_ruleset rs;
	const struct fw_chain *pre, *post;

	(void)state;
	ipt(&rs, 4, "nat",
	    "-A PREROUTING -p tcp --dport 1 -j DNAT --to-destination 10.0.0.1:80\n"
	    "-A PREROUTING -p tcp --dport 2 -j DNAT --to-destination 10.0.0.1\n"
	    "-A PREROUTING -p tcp --dport 3 -j DNAT --to-destination 10.0.0.1-10.0.0.5:80-90\n"
	    "-A PREROUTING -p tcp --dport 4 -j REDIRECT --to-ports 80\n"
	    "-A PREROUTING -p tcp --dport 5 -j REDIRECT --to-ports 80-90\n"
	    "-A PREROUTING -p tcp --dport 6 -j REDIRECT\n"
	    "-A PREROUTING -p tcp --dport 7 -j DNAT --to-destination 10.0.0.1:99999\n"
	    "-A PREROUTING -p tcp --dport 8 -j NETMAP --to 10.9.0.0/16\n"
	    "-A PREROUTING -p tcp --dport 9 -j DNAT --to-destination :8080 --random\n"
	    "-A POSTROUTING -o eth0 -j MASQUERADE --to-ports 1024-2000\n"
	    "-A POSTROUTING -o eth1 -j SNAT --to-source 192.0.2.1\n"
	    "-A POSTROUTING -o eth2 -j MASQUERADE\n");
	pre = chain(&rs, "nat", "PREROUTING");
	post = chain(&rs, "nat", "POSTROUTING");
	assert_nat(&pre->rules[0], FW_NAT_DNAT, true, "10.0.0.1", 80, 80);
	assert_nat(&pre->rules[1], FW_NAT_DNAT, true, "10.0.0.1", -1, -1);
	assert_nat(&pre->rules[2], FW_NAT_DNAT, true, "10.0.0.1", 80, 90);
	assert_nat(&pre->rules[3], FW_NAT_REDIRECT, true, NULL, 80, 80);
	assert_nat(&pre->rules[4], FW_NAT_REDIRECT, true, NULL, 80, 90);
	assert_nat(&pre->rules[5], FW_NAT_REDIRECT, true, NULL, -1, -1);
	assert_nat(&pre->rules[6], FW_NAT_DNAT, false, NULL, -1, -1);
	assert_nat(&pre->rules[7], FW_NAT_DNAT, false, NULL, -1, -1);
	assert_nat(&pre->rules[8], FW_NAT_DNAT, true, NULL, 8080, 8080);
	assert_nat(&post->rules[0], FW_NAT_MASQUERADE, true, NULL, 1024, 2000);
	assert_nat(&post->rules[1], FW_NAT_SNAT, true, "192.0.2.1", -1, -1);
	assert_nat(&post->rules[2], FW_NAT_MASQUERADE, true, NULL, -1, -1);
	fw_ruleset_free(&rs);

	ipt(&rs, 6, "nat",
	    "-A PREROUTING -p tcp --dport 1 -j DNAT --to-destination [fd00::1]:80\n"
	    "-A PREROUTING -p tcp --dport 2 -j DNAT --to-destination fd00::2\n"
	    "-A PREROUTING -p tcp --dport 3 -j DNAT --to-destination [fd00::1]-[fd00::5]:80-90\n");
	pre = chain(&rs, "nat", "PREROUTING");
	assert_nat(&pre->rules[0], FW_NAT_DNAT, true, "fd00::1", 80, 80);
	assert_nat(&pre->rules[1], FW_NAT_DNAT, true, "fd00::2", -1, -1);
	assert_nat(&pre->rules[2], FW_NAT_DNAT, true, "fd00::1", 80, 90);
	fw_ruleset_free(&rs);
}

static void ipt_unknown_targets_and_chains(void **state)
{
	struct fw_ruleset rs;

	(void)state;
	ipt(&rs, 4, "filter",
	    "-A INPUT -p tcp -j NFQUEUE --queue-num 1\n"
	    "-A INPUT -p tcp -j SYNPROXY --sack-perm --timestamp --wscale 7 --mss 1460\n"
	    "-A INPUT -p tcp -j TPROXY --on-port 1\n"
	    "-A INPUT -p tcp -j NOSUCHCHAIN\n"
	    "-A INPUT -p tcp -j USER\n"
	    "-A INPUT -p tcp -g USER\n"
	    "-A INPUT -p tcp -j LOG --log-prefix \"-j DROP\"\n"
	    "-A INPUT -p tcp -j CT --helper ftp\n"
	    "-A INPUT -p tcp -j CT --notrack\n");
	assert_int_equal(input_rule(&rs, 0)->verdict, FW_V_UNKNOWN);
	assert_int_equal(input_rule(&rs, 1)->verdict, FW_V_UNKNOWN);
	assert_int_equal(input_rule(&rs, 2)->verdict, FW_V_UNKNOWN);
	assert_int_equal(input_rule(&rs, 3)->verdict, FW_V_UNKNOWN);
	assert_int_equal(input_rule(&rs, 4)->verdict, FW_V_JUMP);
	assert_string_equal(input_rule(&rs, 4)->target, "USER");
	assert_int_equal(input_rule(&rs, 5)->verdict, FW_V_GOTO);
	assert_int_equal(input_rule(&rs, 6)->verdict, FW_V_CONTINUE);
	assert_int_equal(input_rule(&rs, 7)->verdict, FW_V_CONTINUE);
	assert_string_equal(input_rule(&rs, 7)->helper, "ftp");
	assert_int_equal(input_rule(&rs, 8)->verdict, FW_V_CONTINUE);
	fw_ruleset_free(&rs);
}

static void ipt_ct_derived(void **state)
{
	static const char *const derived[] = {
		"-m connmark --mark 0x1", "-m conntrack --ctstatus DNAT",
		"-m conntrack --ctorigdst 10.0.0.1", "-m conntrack --ctdir REPLY",
		"-m connlimit --connlimit-above 10 --connlimit-mask 32 --connlimit-saddr",
		"-m connbytes --connbytes 10 --connbytes-mode bytes --connbytes-dir both",
		"-m helper --helper ftp", "-m conntrack --ctexpire 10:20",
	};
	struct fw_ruleset rs;
	char rules[256];

	(void)state;
	for (size_t i = 0; i < sizeof(derived) / sizeof(derived[0]); i++) {
		snprintf(rules, sizeof(rules), "-A INPUT %s -j ACCEPT\n", derived[i]);
		ipt(&rs, 4, "filter", rules);
		assert_non_null(find(input_rule(&rs, 0), FW_M_CT_DERIVED));
		assert_null(find(input_rule(&rs, 0), FW_M_UNKNOWN));
		assert_int_equal(input_rule(&rs, 0)->verdict, FW_V_ACCEPT);
		fw_ruleset_free(&rs);
	}
	/* a packet mark, not the entry's */
	ipt(&rs, 4, "filter", "-A INPUT -m mark --mark 0x1 -j ACCEPT\n");
	assert_null(find(input_rule(&rs, 0), FW_M_CT_DERIVED));
	assert_non_null(find(input_rule(&rs, 0), FW_M_UNKNOWN));
	fw_ruleset_free(&rs);
}

static void nft(struct fw_ruleset *rs, const char *json)
{
	memset(rs, 0, sizeof(*rs));
	assert_int_equal(fw_parse_nft_json(rs, json, NULL, 0), 0);
}

static void nft_fixture(struct fw_ruleset *rs, const char *name)
{
	char path[128];
	char *text;

	snprintf(path, sizeof(path), "tests/fixtures/%s", name);
	text = slurp(path);
	nft(rs, text);
	free(text);
}

/* One rule in chain ip t c with EXPR (a JSON array's contents) and chain "other". */
static void nft_rule(struct fw_ruleset *rs, const char *expr, const char *extra)
{
	char json[8192];

	snprintf(json, sizeof(json),
		 "{\"nftables\": [{\"chain\": {\"family\": \"ip\", \"table\": \"t\", \"name\": \"c\","
		 " \"hook\": \"input\", \"type\": \"filter\", \"policy\": \"accept\"}},"
		 "{\"chain\": {\"family\": \"ip\", \"table\": \"t\", \"name\": \"other\"}},%s"
		 "{\"rule\": {\"family\": \"ip\", \"table\": \"t\", \"chain\": \"c\", \"handle\": 2,"
		 " \"expr\": [%s]}}]}", extra ? extra : "", expr);
	nft(rs, json);
}

static void nft_vmap_anonymous(void **state)
{
	struct fw_ruleset rs;
	const struct fw_chain *in;

	(void)state;
	nft_fixture(&rs, "nft_nat_ct.json");
	in = chain(&rs, "fw", "input");
	assert_int_equal(in->rule_count, 23);
	/* ct state vmap { established : accept, related : accept, invalid : drop } */
	assert_int_equal(find(&in->rules[0], FW_M_CT_STATE)->ct_states, FW_CT_INVALID);
	assert_int_equal(in->rules[0].verdict, FW_V_DROP);
	assert_int_equal(find(&in->rules[1], FW_M_CT_STATE)->ct_states, FW_CT_ESTABLISHED);
	assert_int_equal(in->rules[1].verdict, FW_V_ACCEPT);
	assert_int_equal(find(&in->rules[2], FW_M_CT_STATE)->ct_states, FW_CT_RELATED);
	/* 3..13: ct mark, status, count … notrack; then meta iifname vmap */
	assert_string_equal(find(&in->rules[15], FW_M_IIF)->ifname, "eth0");
	assert_int_equal(in->rules[15].verdict, FW_V_ACCEPT);
	assert_int_equal(in->rules[16].verdict, FW_V_DROP);
	/* tcp dport vmap { 22 : accept, 80-90 : drop } */
	assert_int_equal(find(&in->rules[17], FW_M_L4)->l4, FW_L4_TCP);
	assert_int_equal(find(&in->rules[18], FW_M_DPORT)->ports[0].hi, 90);
	/* ip saddr vmap { 10.0.0.0/8 : accept, 192.168.1.1 : drop } */
	assert_int_equal(find(&in->rules[19], FW_M_SADDR)->prefixes[0].len, 8);
	assert_int_equal(find(&in->rules[20], FW_M_SADDR)->prefixes[0].len, 32);
	/* meta l4proto vmap { tcp : jump other, udp : continue }: continue is no rule */
	assert_int_equal(in->rules[21].verdict, FW_V_JUMP);
	assert_string_equal(in->rules[21].target, "other");
	assert_int_equal(in->rules[22].verdict, FW_V_ACCEPT);
	fw_ruleset_free(&rs);
}

static void nft_vmap_named_concat(void **state)
{
	struct fw_ruleset rs;
	const struct fw_chain *svc, *ep;
	const struct fw_rule *r;

	(void)state;
	nft_fixture(&rs, "nft_kube_proxy_vmap.json");
	svc = chain(&rs, "kube-proxy", "services");
	assert_int_equal(svc->rule_count, 2);
	/* ip daddr . meta l4proto . th dport vmap @service-ips */
	r = &svc->rules[0];
	assert_int_equal(r->verdict, FW_V_GOTO);
	assert_string_equal(r->target, "service-ULMVA6XW-ns1/svc1/tcp/p80");
	assert_int_equal(find(r, FW_M_DADDR)->prefixes[0].addr[3], 41);
	assert_int_equal(find(r, FW_M_L4)->l4, FW_L4_TCP);
	assert_int_equal(find(r, FW_M_DPORT)->ports[0].lo, 80);
	/* ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports */
	r = &svc->rules[1];
	assert_int_equal(r->verdict, FW_V_GOTO);
	assert_int_equal(find(r, FW_M_DADDR)->prefixes[0].addr[3], 2);
	assert_int_equal(find(r, FW_M_DPORT)->ports[0].lo, 3001);
	/* numgen random mod 1 vmap { 0 : goto endpoint… }: a key we cannot evaluate,
	 * so the element may or may not match, but where it goes is kept (the
	 * endpoint's DNAT must stay reachable for the NAT checks) */
	ep = chain(&rs, "kube-proxy", "service-ULMVA6XW-ns1/svc1/tcp/p80");
	assert_int_equal(ep->rule_count, 2);
	assert_int_equal(ep->rules[1].verdict, FW_V_GOTO);
	assert_string_equal(ep->rules[1].target, "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80");
	assert_non_null(find(&ep->rules[1], FW_M_UNKNOWN));
	fw_ruleset_free(&rs);
}

static void nft_vmap_unreadable(void **state)
{
	struct fw_ruleset rs;
	const struct fw_chain *c;

	(void)state;
	/* a map that is not in the listing */
	nft_rule(&rs, "{\"vmap\": {\"key\": {\"meta\": {\"key\": \"l4proto\"}}, \"data\": \"@gone\"}}",
		 NULL);
	c = chain(&rs, "t", "c");
	assert_int_equal(c->rule_count, 1);
	assert_int_equal(c->rules[0].verdict, FW_V_UNKNOWN);
	assert_non_null(find(&c->rules[0], FW_M_UNKNOWN));
	fw_ruleset_free(&rs);
	/* elements with keys we cannot read (each: may match, verdict kept), between
	 * two we can; a jump nowhere */
	nft_rule(&rs,
		 "{\"vmap\": {\"key\": {\"payload\": {\"protocol\": \"tcp\", \"field\": \"dport\"}},"
		 " \"data\": {\"set\": [[22, {\"accept\": null}], [\"ssh\", {\"drop\": null}],"
		 " [70000, {\"drop\": null}], [80, {\"jump\": {\"target\": \"nowhere\"}}]]}}}",
		 NULL);
	c = chain(&rs, "t", "c");
	assert_int_equal(c->rule_count, 4);
	assert_int_equal(c->rules[0].verdict, FW_V_ACCEPT);
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(c->rules[i].verdict, FW_V_DROP);
		assert_non_null(find(&c->rules[i], FW_M_UNKNOWN));
		assert_null(find(&c->rules[i], FW_M_DPORT));
	}
	assert_int_equal(c->rules[3].verdict, FW_V_UNKNOWN);
	assert_int_equal(find(&c->rules[3], FW_M_DPORT)->ports[0].lo, 80);
	fw_ruleset_free(&rs);
}

static void nft_strict_values(void **state)
{
	struct fw_ruleset rs;
	const struct fw_rule *r;

	(void)state;
	nft_rule(&rs,
		 "{\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"ip\","
		 " \"field\": \"saddr\"}}, \"right\": {\"prefix\": {\"addr\": \"10.0.0.0\"}}}},"
		 "{\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"tcp\","
		 " \"field\": \"dport\"}}, \"right\": 70000}},"
		 "{\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"tcp\","
		 " \"field\": \"sport\"}}, \"right\": {\"range\": [90, 80]}}}, {\"accept\": null}",
		 NULL);
	r = &chain(&rs, "t", "c")->rules[0];
	assert_null(find(r, FW_M_SADDR)); /* never /0 */
	assert_null(find(r, FW_M_DPORT)); /* never 4464 */
	assert_null(find(r, FW_M_SPORT));
	assert_int_equal(r->verdict, FW_V_ACCEPT);
	fw_ruleset_free(&rs);
}

static void nft_mangle_empty_ct(void **state)
{
	struct fw_ruleset rs;

	(void)state;
	nft_rule(&rs,
		 "{\"mangle\": {\"key\": {\"ct\": {}}, \"value\": \"ftp\"}},"
		 "{\"mangle\": {\"key\": {\"ct\": {\"key\": \"helper\"}}, \"value\": 5}},"
		 "{\"mangle\": {}}, {\"match\": {}}, {\"vmap\": {}}, {\"accept\": null}",
		 NULL);
	assert_int_equal(chain(&rs, "t", "c")->rules[0].verdict, FW_V_UNKNOWN);
	fw_ruleset_free(&rs);
}

static void nft_nat_statements(void **state)
{
	struct fw_ruleset rs;
	const struct fw_chain *pre, *post, *pre6;

	(void)state;
	nft_fixture(&rs, "nft_nat_ct.json");
	pre = chain(&rs, "nat", "pre");
	post = chain(&rs, "nat", "post");
	pre6 = chain(&rs, "nat6", "pre");
	assert_nat(&pre->rules[0], FW_NAT_DNAT, true, "10.0.0.1", 80, 80);
	assert_nat(&pre->rules[1], FW_NAT_DNAT, true, "10.0.0.1", -1, -1);
	assert_nat(&pre->rules[2], FW_NAT_DNAT, true, "10.0.0.1", 80, 90);
	assert_nat(&pre->rules[3], FW_NAT_REDIRECT, true, NULL, 80, 80);
	assert_nat(&pre->rules[4], FW_NAT_REDIRECT, true, NULL, -1, -1);
	assert_nat(&pre->rules[5], FW_NAT_REDIRECT, true, NULL, 80, 90);
	assert_nat(&pre->rules[6], FW_NAT_DNAT, false, NULL, -1, -1); /* map @svc */
	assert_nat(&pre->rules[7], FW_NAT_DNAT, false, NULL, -1, -1); /* anonymous map */
	assert_nat(&post->rules[0], FW_NAT_MASQUERADE, true, NULL, -1, -1);
	assert_nat(&post->rules[1], FW_NAT_MASQUERADE, true, NULL, 1024, 2000);
	assert_nat(&post->rules[2], FW_NAT_SNAT, true, "192.0.2.1", -1, -1);
	assert_nat(&post->rules[3], FW_NAT_SNAT, true, "192.0.2.1", 4000, 4000);
	assert_nat(&pre6->rules[0], FW_NAT_DNAT, true, "fd00::1", 80, 80);
	assert_nat(&pre6->rules[1], FW_NAT_DNAT, true, "fd00::2", -1, -1);
	fw_ruleset_free(&rs);
}

static void nft_ct_derived_and_unknown_statements(void **state)
{
	struct fw_ruleset rs;
	const struct fw_chain *in, *prer;

	(void)state;
	nft_fixture(&rs, "nft_nat_ct.json");
	in = chain(&rs, "fw", "input");
	/* ct mark, status, count, direction, original saddr, helper, label, zone,
	 * expiration, bytes, avgpkt */
	for (size_t i = 3; i < 14; i++) {
		assert_non_null(find(&in->rules[i], FW_M_CT_DERIVED));
		assert_null(find(&in->rules[i], FW_M_CT_STATE));
	}
	assert_int_equal(in->rules[14].verdict, FW_V_CONTINUE); /* notrack */
	prer = chain(&rs, "fw", "prer");
	assert_int_equal(prer->rules[0].verdict, FW_V_UNKNOWN); /* tproxy */
	assert_int_equal(prer->rules[1].verdict, FW_V_CONTINUE);
	assert_string_equal(prer->rules[1].helper, "ftp-standard");
	fw_ruleset_free(&rs);

	nft_rule(&rs,
		 "{\"queue\": {\"num\": 1}}, {\"accept\": null}", NULL);
	assert_int_equal(chain(&rs, "t", "c")->rules[0].verdict, FW_V_UNKNOWN);
	fw_ruleset_free(&rs);
	nft_rule(&rs, "{\"synproxy\": {\"mss\": 1460}}", NULL);
	assert_int_equal(chain(&rs, "t", "c")->rules[0].verdict, FW_V_UNKNOWN);
	fw_ruleset_free(&rs);
	nft_rule(&rs, "{\"jump\": {\"target\": \"nowhere\"}}", NULL);
	assert_int_equal(chain(&rs, "t", "c")->rules[0].verdict, FW_V_UNKNOWN);
	fw_ruleset_free(&rs);
	nft_rule(&rs, "{\"goto\": {\"target\": \"other\"}}", NULL);
	assert_int_equal(chain(&rs, "t", "c")->rules[0].verdict, FW_V_GOTO);
	fw_ruleset_free(&rs);
	nft_rule(&rs,
		 "{\"match\": {\"op\": \"==\", \"left\": {\"ct\": {\"key\": \"state\"}},"
		 " \"right\": \"bogus\"}}, {\"accept\": null}", NULL);
	assert_non_null(find(&chain(&rs, "t", "c")->rules[0], FW_M_UNKNOWN));
	assert_null(find(&chain(&rs, "t", "c")->rules[0], FW_M_CT_STATE));
	fw_ruleset_free(&rs);
}

/* firewalld's `meta nfproto ipv6`, and a verdict map keyed by the entry's mark. */
static void nft_nfproto_and_ct_mark_vmap(void **state)
{
	struct fw_ruleset rs;
	const struct fw_chain *c;

	(void)state;
	nft_rule(&rs,
		 "{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"nfproto\"}},"
		 " \"right\": \"ipv6\"}},"
		 "{\"vmap\": {\"key\": {\"ct\": {\"key\": \"mark\"}}, \"data\": {\"set\":"
		 " [[1, {\"accept\": null}], [2, {\"drop\": null}]]}}}", NULL);
	c = chain(&rs, "t", "c");
	assert_int_equal(c->rule_count, 2);
	assert_int_equal(find(&c->rules[0], FW_M_FAMILY)->family, 6);
	assert_non_null(find(&c->rules[0], FW_M_CT_DERIVED));
	assert_null(find(&c->rules[0], FW_M_UNKNOWN));
	assert_int_equal(c->rules[0].verdict, FW_V_ACCEPT);
	assert_int_equal(c->rules[1].verdict, FW_V_DROP);
	fw_ruleset_free(&rs);
}

/* iptables-nft-save with one table it cannot show: the rest is read, that one left to nft. */
static void incompatible_table(void **state)
{
	static const char save[] =
		"# Generated by iptables-nft-save v1.8.9 (nf_tables)\n"
		"*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
		"-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
		"# Table `nat' is incompatible, use 'nft' tool.\n";
	static const char json[] =
		"{\"nftables\": [{\"chain\": {\"family\": \"ip\", \"table\": \"nat\", \"name\": \"PREROUTING\","
		" \"hook\": \"prerouting\", \"type\": \"nat\", \"policy\": \"accept\"}},"
		"{\"chain\": {\"family\": \"ip\", \"table\": \"filter\", \"name\": \"INPUT\","
		" \"hook\": \"input\", \"type\": \"filter\", \"policy\": \"drop\"}},"
		"{\"rule\": {\"family\": \"ip\", \"table\": \"nat\", \"chain\": \"PREROUTING\","
		" \"handle\": 3, \"expr\": [{\"redirect\": {\"port\": 80}}]}}]}";
	char skip[FW_MAX_SKIP][2 * FW_NAME_LEN];
	const char *ptrs[FW_MAX_SKIP];
	struct fw_ruleset rs = { 0 };
	size_t n = 0;

	(void)state;
	assert_int_equal(ctb_firewall_read_save(&rs, save, 4, FW_SRC_IPTABLES_NFT, skip, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(skip[0], "ip filter");
	for (size_t i = 0; i < n; i++)
		ptrs[i] = skip[i];
	assert_int_equal(fw_parse_nft_json(&rs, json, ptrs, n), 0);
	assert_int_equal(chain(&rs, "filter", "INPUT")->source, FW_SRC_IPTABLES_NFT);
	assert_int_equal(chain(&rs, "filter", "INPUT")->rule_count, 1);
	assert_int_equal(chain(&rs, "nat", "PREROUTING")->source, FW_SRC_NFT);
	assert_nat(&chain(&rs, "nat", "PREROUTING")->rules[0], FW_NAT_REDIRECT, true, NULL, 80, 80);
	assert_int_equal(rs.unreadable_count, 0);
	fw_ruleset_free(&rs);
}

static void unreadable_parts_are_named(void **state)
{
	struct fw_ruleset rs = { 0 };

	(void)state;
	assert_int_equal(fw_parse_iptables_save(&rs, "*filter\n:INPUT\n-A GHOST -j DROP\nCOMMIT\n",
						4, FW_SRC_IPTABLES_LEGACY), 0);
	assert_int_equal(rs.unreadable_count, 2);
	fw_ruleset_free(&rs);
	for (int i = 0; i < 10; i++)
		fw_ruleset_add_unreadable(&rs, "part %d", i);
	assert_int_equal(rs.unreadable_count, FW_MAX_UNREADABLE);
	assert_non_null(strstr(rs.unreadable[FW_MAX_UNREADABLE - 1], "more"));
	fw_ruleset_free(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ipt_ports_strict),
		cmocka_unit_test(ipt_dotted_masks),
		cmocka_unit_test(ipt_tokens_past_128_and_trailing_jump),
		cmocka_unit_test(ipt_flags_before_jump),
		cmocka_unit_test(ipt_ctstate_dnat_snat),
		cmocka_unit_test(ipt_nat_targets),
		cmocka_unit_test(ipt_unknown_targets_and_chains),
		cmocka_unit_test(ipt_ct_derived),
		cmocka_unit_test(nft_vmap_anonymous),
		cmocka_unit_test(nft_vmap_named_concat),
		cmocka_unit_test(nft_vmap_unreadable),
		cmocka_unit_test(nft_strict_values),
		cmocka_unit_test(nft_mangle_empty_ct),
		cmocka_unit_test(nft_nat_statements),
		cmocka_unit_test(nft_ct_derived_and_unknown_statements),
		cmocka_unit_test(nft_nfproto_and_ct_mark_vmap),
		cmocka_unit_test(incompatible_table),
		cmocka_unit_test(unreadable_parts_are_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
