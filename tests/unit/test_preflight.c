// SPDX-License-Identifier: GPL-2.0
/*
 * The preflight analysis on rulesets recorded from real nftables and iptables
 * (tests/fixtures/): what it finds, and the exact rule it tells the operator to add.
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
#include "preflight.h"

static char err[256];

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

static void load(struct fw_ruleset *rs, const char *fixture)
{
	char path[128];
	char *text;

	snprintf(path, sizeof(path), "tests/fixtures/%s", fixture);
	text = slurp(path);
	memset(rs, 0, sizeof(*rs));
	if (strstr(fixture, ".json"))
		assert_int_equal(fw_parse_nft_json(rs, text, NULL, 0), 0);
	else
		assert_int_equal(fw_parse_iptables_save(rs, text, 4, FW_SRC_IPTABLES_LEGACY), 0);
	free(text);
}

/* Runs the analysis for --ports PORTS --upstream UPSTREAMS on FIXTURE. */
static void analyse(const char *fixture, const char *ports, const char *upstreams,
		    struct ctb_findings *out)
{
	static const uint8_t source[1][16] = { { 198, 18, 0, 1 } };
	static const bool known[1] = { true };
	struct ctb_host_facts facts = {
		.ephemeral_lo = 32768, .ephemeral_hi = 60999,
		.iptables_nft_cmd = "iptables", .iptables_legacy_cmd = "iptables",
		.upstream_source = source, .upstream_source_known = known,
	};
	struct fw_ruleset rs;
	struct ctb_config cfg;

	ctb_config_init(&cfg);
	if (ports)
		assert_int_equal(ctb_portset_parse(&cfg.ports, ports, err, sizeof(err)), 0);
	if (upstreams)
		assert_int_equal(ctb_upstream_list_parse(&cfg.upstreams, upstreams, err,
							 sizeof(err)), 0);
	load(&rs, fixture);
	assert_int_equal(ctb_preflight_analyse(&cfg, &rs, &facts, out), 0);
	fw_ruleset_free(&rs);
	ctb_config_free(&cfg);
}

static size_t count_kind(const struct ctb_findings *f, enum ctb_finding_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < f->count; i++)
		n += f->items[i].kind == kind;
	return n;
}

static const struct ctb_finding *first_kind(const struct ctb_findings *f,
					    enum ctb_finding_kind kind)
{
	for (size_t i = 0; i < f->count; i++)
		if (f->items[i].kind == kind)
			return &f->items[i];
	fail_msg("no finding of kind %d", kind);
	return NULL;
}

/* The seeds' RH-Firewall: port 80 accepted as NEW, the rest as ESTABLISHED, then REJECT. */
static void rh_firewall_refuses_with_the_exact_rule(void **state)
{
	struct ctb_findings f;

	(void)state;
	analyse("iptables_rh_firewall.save", "80", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	assert_string_equal(first_kind(&f, CTB_FINDING_STATEFUL)->fix,
			    "iptables -I RH-Firewall-1-INPUT 4 -p tcp --dport 80 -m conntrack "
			    "--ctstate UNTRACKED -j ACCEPT");
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_STATEFUL)->rule, "-j REJECT"));
	assert_int_equal(count_kind(&f, CTB_FINDING_ICMP), 0); /* icmp-type any is accepted */
	ctb_findings_free(&f);

	analyse("iptables_rh_firewall.save", "22,80", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_STATEFUL)->fix,
			       "-m multiport --dports 22,80 "));
	ctb_findings_free(&f);
}

static void stateless_accepts_and_closed_ports_are_fine(void **state)
{
	struct ctb_findings f;

	(void)state;
	/* 8080 is accepted whatever its state (multiport rule, comment in between). */
	analyse("iptables_rh_firewall.save", "8080,8443", NULL, &f);
	assert_int_equal(f.count, 0);
	ctb_findings_free(&f);
	/* 81 is not open today: a bypass breaks nothing that worked. */
	analyse("iptables_rh_firewall.save", "81", NULL, &f);
	assert_int_equal(f.count, 0);
	ctb_findings_free(&f);
	/* nftables: 443 accepted in a jumped-to chain, by a set, without ct state. */
	analyse("nft_stateful.json", "443", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 0);
	ctb_findings_free(&f);
}

static void nft_ranges_jumps_and_positions(void **state)
{
	struct ctb_findings f;
	const struct ctb_finding *s;

	(void)state;
	/* 8000-8100 new is accepted in chain services; established at handle 7. */
	analyse("nft_stateful.json", "8050,8060", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	s = first_kind(&f, CTB_FINDING_STATEFUL);
	assert_string_equal(s->fix, "nft add rule inet filter input position 7 ct state "
				    "untracked tcp dport { 8050, 8060 } accept");
	assert_non_null(strstr(s->traffic, "tcp/8050,8060 arrivals"));
	ctb_findings_free(&f);
	/* A whole range in one probe per stretch: still one finding, one range. */
	analyse("nft_stateful.json", "8000-8100", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_STATEFUL)->fix,
			       "tcp dport 8000-8100 accept"));
	ctb_findings_free(&f);
	/* ICMP errors about untracked flows are INVALID, and `ct state invalid drop`
	 * comes before the ICMP accept: a PMTU black hole, warned for both families. */
	analyse("nft_stateful.json", "8050", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_ICMP), 2);
	assert_false(first_kind(&f, CTB_FINDING_ICMP)->blocking);
	ctb_findings_free(&f);
}

static void docker_nat_is_found_only_for_its_port(void **state)
{
	struct ctb_findings f;

	(void)state;
	analyse("iptables_docker_nat.save", "8080", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT), 1);
	assert_string_equal(first_kind(&f, CTB_FINDING_NAT)->rule,
			    "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT "
			    "--to-destination 172.17.0.2:80");
	ctb_findings_free(&f);
	analyse("iptables_docker_nat.save", "80", "198.18.0.7:3128", &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT), 0); /* MASQUERADE is for 172.17/16 */
	ctb_findings_free(&f);
	analyse("nft_docker_nat.json", "8080", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT), 1);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_NAT)->where, "table ip nat chain DOCKER"));
	ctb_findings_free(&f);
}

static void upstreams_and_families(void **state)
{
	struct ctb_findings f;
	const struct ctb_finding *s;

	(void)state;
	/* Output policy drop: requests to the upstream are accepted as NEW, then ESTABLISHED. */
	analyse("nft_docker_nat.json", NULL, "198.18.0.7:3128", &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_STATEFUL), 1);
	s = first_kind(&f, CTB_FINDING_STATEFUL);
	assert_non_null(strstr(s->fix, "nft add rule inet egress output position "));
	assert_non_null(strstr(s->fix, "ct state untracked ip daddr 198.18.0.7 tcp dport 3128 "
				       "accept"));
	ctb_findings_free(&f);
	/* The accept rule is `ip daddr …`: IPv6 upstreams are not accepted today at all. */
	analyse("nft_docker_nat.json", NULL, "[fd00:c7::7]:3128", &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_STATEFUL), 0);
	ctb_findings_free(&f);
	/* Server replies from port 80 are accepted only as established on output. */
	analyse("nft_docker_nat.json", "80", NULL, &f);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_STATEFUL)->fix,
			       "ct state untracked tcp sport 80 accept"));
	ctb_findings_free(&f);
}

static void ephemeral_ports_warn(void **state)
{
	struct ctb_findings f;

	(void)state;
	analyse("nft_stateful.json", "443,40000-40010", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_EPHEMERAL), 1);
	assert_false(first_kind(&f, CTB_FINDING_EPHEMERAL)->blocking);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_EPHEMERAL)->message, "40000-40010"));
	ctb_findings_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rh_firewall_refuses_with_the_exact_rule),
		cmocka_unit_test(stateless_accepts_and_closed_ports_are_fine),
		cmocka_unit_test(nft_ranges_jumps_and_positions),
		cmocka_unit_test(docker_nat_is_found_only_for_its_port),
		cmocka_unit_test(upstreams_and_families),
		cmocka_unit_test(ephemeral_ports_warn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
