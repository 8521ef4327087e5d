// SPDX-License-Identifier: GPL-2.0
/*
 * Replies to NFT_MSG_GETRULE (the rules of table inet ctbypass, read raw by
 * every command and status for the configuration and the counters):
 * ctb_nft_rule_parse on each message, as the dump runs it.
 */
#include "../../src/bypass/nft_rule_dump.c"
#include "fuzz.h"

static int check_rule(const struct nlmsghdr *nlh, void *data)
{
	struct ctb_nft_rule rule;

	(void)data;
	if (ctb_nft_rule_parse(nlh, &rule))
		return MNL_CB_OK;
	FUZZ_ASSERT(memchr(rule.chain, '\0', sizeof(rule.chain)), "chain not terminated");
	FUZZ_ASSERT(memchr(rule.comment, '\0', sizeof(rule.comment)), "comment not terminated");
	FUZZ_ASSERT(rule.chain[0], "parsed a rule without a chain");
	return MNL_CB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf = fuzz_bytes(data, size);

	mnl_cb_run(buf, fuzz_nl_whole(buf, size), 0, 0, check_rule, NULL);
	free(buf);
	return 0;
}
