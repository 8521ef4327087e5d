// SPDX-License-Identifier: GPL-2.0
/*
 * Inputs the fuzz harnesses (tests/fuzz/) found mishandled, kept as unit tests
 * of the public parsers. Findings in static parsers are replayed instead from
 * their harness's seed corpus (tests/fuzz/corpus/NAME/regress-*).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>
#include "config.h"
#include "firewall_model.h"

/* strtoull skips blanks and applies a sign, so these once parsed as marks. */
static void mark_rejects_blanks_and_signs(void **state)
{
	static const char *const bad[] = { " 1", "\v2222222221", " -18446744073709551615",
					   "\t0x1000", "+5", " +5" };
	char err[128];
	uint32_t m = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ctb_mark_parse(bad[i], &m, err, sizeof(err)), -22);
		assert_int_equal(m, 7);
	}
	assert_int_equal(ctb_mark_parse("0x1000", &m, err, sizeof(err)), 0);
	assert_int_equal(m, 0x1000);
}

static const struct fw_match *first_match(const struct fw_ruleset *rs, enum fw_match_kind kind)
{
	for (size_t c = 0; c < rs->chain_count; c++)
		for (size_t r = 0; r < rs->chains[c].rule_count; r++)
			for (size_t m = 0; m < rs->chains[c].rules[r].match_count; m++)
				if (rs->chains[c].rules[r].matches[m].kind == kind)
					return &rs->chains[c].rules[r].matches[m];
	return NULL;
}

/* A prefix longer than its address made the analysis read past a 16-byte address. */
static void iptables_prefix_too_long(void **state)
{
	struct fw_ruleset rs = { 0 };

	(void)state;
	assert_int_equal(fw_parse_iptables_save(&rs,
						"*filter\n:INPUT ACCEPT [0:0]\n"
						"-A INPUT -s 10.0.0.0/200 -j DROP\n"
						"-A INPUT -d 10.0.0.0/-1 -j DROP\n"
						"-A INPUT -s 10.0.0.0/8 -j ACCEPT\nCOMMIT\n",
						4, FW_SRC_IPTABLES_LEGACY),
			 0);
	assert_int_equal(rs.chain_count, 1);
	assert_int_equal(rs.chains[0].rule_count, 3);
	assert_int_equal(rs.chains[0].rules[0].matches[0].kind, FW_M_UNKNOWN);
	assert_int_equal(rs.chains[0].rules[1].matches[0].kind, FW_M_UNKNOWN);
	assert_int_equal(rs.chains[0].rules[2].matches[0].kind, FW_M_SADDR);
	assert_int_equal(rs.chains[0].rules[2].matches[0].prefixes[0].len, 8);
	fw_ruleset_free(&rs);
}

static void nft_prefix_too_long(void **state)
{
	static const char json[] =
		"{\"nftables\": [{\"chain\": {\"family\": \"ip\", \"table\": \"t\", \"name\": \"c\","
		" \"hook\": \"input\", \"type\": \"filter\", \"policy\": \"accept\"}},"
		"{\"rule\": {\"family\": \"ip\", \"table\": \"t\", \"chain\": \"c\", \"handle\": 2,"
		" \"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\":"
		" \"ip\", \"field\": \"saddr\"}}, \"right\": {\"prefix\": {\"addr\": \"10.0.0.0\","
		" \"len\": 33}}}}, {\"drop\": null}]}}]}";
	struct fw_ruleset rs = { 0 };

	(void)state;
	assert_int_equal(fw_parse_nft_json(&rs, json, NULL, 0), 0);
	assert_null(first_match(&rs, FW_M_SADDR));
	assert_non_null(first_match(&rs, FW_M_UNKNOWN));
	fw_ruleset_free(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mark_rejects_blanks_and_signs),
		cmocka_unit_test(iptables_prefix_too_long),
		cmocka_unit_test(nft_prefix_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
