// SPDX-License-Identifier: GPL-2.0
/*
 * Replies to NFT_MSG_GETTABLE (the preflight's list of nftables tables, read
 * raw): table_cb on each message, as the dump runs it.
 */
#include "../../src/preflight/nft_tables_list.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf = fuzz_bytes(data, size);
	size_t whole = fuzz_nl_whole(buf, size);
	struct tables t = { 0 };

	mnl_cb_run(buf, whole, 0, 0, table_cb, &t);
	/* Whatever was read is a known family and a non-empty name that fits. */
	for (size_t i = 0; i < t.count; i++)
		if (!t.items[i].name[0] || !t.items[i].family[0])
			abort();
	free(t.items);
	free(buf);
	return 0;
}
