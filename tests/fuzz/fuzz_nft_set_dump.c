// SPDX-License-Identifier: GPL-2.0
/*
 * Replies to NFT_MSG_GETSETELEM (the elements of set server_ports, read raw by
 * every command, status and the reconcile's verify): ctb_nft_setelem_parse on
 * each message, and the port decoding on top (dump_cb), as the dump runs them.
 */
#include "../../src/bypass/nft_set_dump.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf = fuzz_bytes(data, size);
	size_t whole = fuzz_nl_whole(buf, size);
	struct ctb_portset *sets = calloc(2, sizeof(*sets));
	struct ports_ctx ctx = { &sets[0], &sets[1], 0 };

	if (!sets)
		abort();
	mnl_cb_run(buf, whole, 0, 0, dump_cb, &ctx);
	/* Whatever was decoded is a port of tcp or udp, never port 0. */
	if (ctb_portset_has(&sets[0], 0) || ctb_portset_has(&sets[1], 0))
		abort();
	free(sets);
	free(buf);
	return 0;
}
