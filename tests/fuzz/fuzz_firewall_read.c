// SPDX-License-Identifier: GPL-2.0
/*
 * The two texts ctb_firewall_read reads besides the JSON: an iptables-nft-save
 * dump's "*table" lines (managed_tables: which nft tables to skip) and nft's
 * text listing's "# handle N" lines (attach_nft_texts: each rule's wording).
 * Both are static, so the file is compiled in here. The listing is matched
 * against a ruleset holding chains and rules it may name.
 */
#include "../../src/preflight/firewall_read.c"
#include "fuzz_preflight.h"

static void ruleset_for_texts(struct fw_ruleset *rs)
{
	static const char *const chains[][3] = { { "inet", "filter", "input" },
						 { "ip", "nat", "PREROUTING" },
						 { "ip6", "filter", "forward" } };

	for (size_t c = 0; c < sizeof(chains) / sizeof(chains[0]); c++) {
		struct fw_chain *ch = fw_ruleset_add_chain(rs);

		if (!ch)
			abort();
		ch->source = FW_SRC_NFT;
		snprintf(ch->family, sizeof(ch->family), "%s", chains[c][0]);
		snprintf(ch->table, sizeof(ch->table), "%s", chains[c][1]);
		snprintf(ch->name, sizeof(ch->name), "%s", chains[c][2]);
		for (uint64_t h = 1; h <= 8; h++) {
			struct fw_rule *rule = fw_chain_add_rule(ch);

			if (!rule)
				abort();
			rule->handle = h;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char skip[MAX_SKIP][2 * FW_NAME_LEN];
	char *text = fuzz_cstr(data, size);
	struct fw_ruleset rs = { 0 };
	size_t n;

	n = managed_tables(text, 4, skip, 0);
	FUZZ_ASSERT(n <= MAX_SKIP, "%zu tables", n);
	n = managed_tables(text, 6, skip, n);
	FUZZ_ASSERT(n <= MAX_SKIP, "%zu tables", n);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(memchr(skip[i], '\0', sizeof(skip[i])), "table name");
	ruleset_for_texts(&rs);
	attach_nft_texts(&rs, text);
	fuzz_check_ruleset(&rs);
	/* A rule's wording is its own line, up to its "# handle N" comment. */
	for (size_t c = 0; c < rs.chain_count; c++)
		for (size_t r = 0; r < rs.chains[c].rule_count; r++) {
			const char *t = rs.chains[c].rules[r].text;

			FUZZ_ASSERT(!strchr(t, '\n') && !strstr(t, " # handle "),
				    "rule text '%s'", t);
		}
	fw_ruleset_free(&rs);
	free(text);
	return 0;
}
